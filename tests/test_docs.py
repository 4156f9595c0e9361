"""The docs cannot rot: every fenced code block of README.md and docs/*.md is exercised, every relative link
resolves, and the README links every page of docs/.

How each block is exercised depends on what it is (see docs/development.md, "Docs are tested"):

* ``python``: run with the venv's Python in a temporary directory, with moto's endpoint in the environment;
  a block that imports ``aws_cdk`` must synthesize a cloud assembly. Imports of this project come only from
  its public packages.
* ``bash``/``console``: each command is matched against COMMAND RULES below. Commands of this project
  (``devops-blueprints``, ``python -m batch_job``, ``cdk synth``) run against the block's fixtures; commands
  that need an AWS account, the internet or minutes (``cdk deploy``, ``aws ...``, ``make test``, benchmarks)
  get every check that works offline. A command no rule matches fails the test.
* ``json`` parses; ``text`` is an illustration and must hold no command.

An HTML comment right before a block adjusts this; each part is printed by the test that uses it:
``<!-- doctest: fixture NAME[, NAME]; exit 0,3; parse-only REASON; buildspec NAME -->``.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import importlib.metadata
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
PAGES = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]
VENV_BIN = Path(sys.executable).parent
CDK_CLI = REPO_ROOT / ".tools" / "node_modules" / ".bin" / "cdk"
TIMEOUT = 600

# The modules a doc snippet may import this project from (stable public paths; module paths inside them move).
PUBLIC_MODULES = {
    "devops_blueprints.constructs",
    "devops_blueprints.stacks",
    "devops_blueprints.stages",
    "devops_blueprints.feature_flags",
    "devops_blueprints.guardrails",
    "devops_blueprints.tf_import",
}

# --------------------------------------------------------------------------------------------------------
# Markdown: fenced blocks, directives, links, headings
# --------------------------------------------------------------------------------------------------------

_FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")
_DIRECTIVE = re.compile(r"^\s*<!--\s*doctest:(?P<body>.*?)-->\s*$")
_LINK = re.compile(r"(?<!!)\[(?:[^\]\[]|\[[^\]]*\])*\]\((?P<target>[^)\s]+)(?:\s+\"[^\"]*\")?\)")
_INLINE_CODE = re.compile(r"`[^`]*`")
DIRECTIVE_KEYS = ("fixture", "exit", "parse-only", "buildspec")


@dataclass(frozen=True)
class Block:
    page: Path
    line: int  # 1-based line of the opening fence
    lang: str
    text: str
    directives: tuple[tuple[str, str], ...] = ()

    @property
    def name(self) -> str:
        return f"{self.page.relative_to(REPO_ROOT)}:{self.line}"

    def directive(self, key: str) -> str | None:
        return dict(self.directives).get(key)

    @property
    def fixtures(self) -> list[str]:
        value = self.directive("fixture")
        return [name.strip() for name in value.split(",") if name.strip()] if value else []

    @property
    def exit_codes(self) -> set[int]:
        value = self.directive("exit")
        return {int(code) for code in value.split(",")} if value else {0}


def _parse_directives(body: str, where: str) -> tuple[tuple[str, str], ...]:
    parsed = []
    for part in body.split(";"):
        part = part.strip()
        if not part:
            continue
        key, _, value = part.partition(" ")
        if key not in DIRECTIVE_KEYS:
            raise ValueError(f"{where}: unknown doctest directive {key!r} (known: {', '.join(DIRECTIVE_KEYS)})")
        if key == "parse-only" and not value.strip():
            raise ValueError(f"{where}: parse-only needs a reason")
        parsed.append((key, value.strip()))
    return tuple(parsed)


def parse_page(page: Path) -> tuple[list[Block], list[str]]:
    """The page's fenced blocks and its prose lines (code blocks blanked, so links in code are ignored)."""
    lines = page.read_text().splitlines()
    blocks: list[Block] = []
    prose: list[str] = []
    index = 0
    while index < len(lines):
        match = _FENCE.match(lines[index])
        if not match:
            prose.append(lines[index])
            index += 1
            continue
        indent, fence, info = len(match["indent"]), match["fence"], match["info"].strip()
        start = index
        body: list[str] = []
        index += 1
        while index < len(lines) and not re.match(rf"^\s*{re.escape(fence[0])}{{{len(fence)},}}\s*$", lines[index]):
            body.append(lines[index][indent:] if lines[index][:indent].strip() == "" else lines[index].lstrip())
            index += 1
        if index >= len(lines):
            raise ValueError(f"{page}:{start + 1}: code block is never closed")
        index += 1
        prose.extend([""] * (index - start))
        back = start - 1
        while back >= 0 and not lines[back].strip():
            back -= 1
        directive = _DIRECTIVE.match(lines[back]) if back >= 0 else None
        where = f"{page.relative_to(REPO_ROOT)}:{start + 1}"
        directives = _parse_directives(directive["body"], where) if directive else ()
        blocks.append(Block(page, start + 1, info.split()[0] if info else "", "\n".join(body) + "\n", directives))
    return blocks, prose


def github_slug(heading: str) -> str:
    text = re.sub(r"<[^>]+>", "", heading).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


@functools.cache
def anchors(page: Path) -> frozenset[str]:
    _blocks, prose = parse_page(page)
    seen: dict[str, int] = {}
    result = set()
    for line in prose:
        match = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not match:
            continue
        slug = github_slug(match[1])
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        result.add(slug if count == 0 else f"{slug}-{count}")
    return frozenset(result)


def links(page: Path) -> Iterator[tuple[int, str]]:
    _blocks, prose = parse_page(page)
    for number, line in enumerate(prose, 1):
        for match in _LINK.finditer(_INLINE_CODE.sub("", line)):
            yield number, match["target"]


ALL_BLOCKS = [block for page in PAGES for block in parse_page(page)[0]]

# --------------------------------------------------------------------------------------------------------
# Commands in bash/console blocks
# --------------------------------------------------------------------------------------------------------


@dataclass
class Command:
    text: str  # as written (continuations joined, comment removed)
    line: int
    expected: list[str] = field(default_factory=list)  # console output lines shown after it

    @property
    def tokens(self) -> list[str]:
        return shlex.split(self.text, comments=True)


def commands(block: Block) -> list[Command]:
    result: list[Command] = []
    lines = block.text.splitlines()
    index = 0
    console = block.lang == "console"
    while index < len(lines):
        raw = lines[index]
        number = block.line + 1 + index
        index += 1
        if console:
            if not raw.startswith("$ "):
                if raw.strip():
                    if not result:
                        raise AssertionError(f"{block.name}: console output before any `$ ` command: {raw!r}")
                    result[-1].expected.append(raw)
                continue
            raw = raw[2:]
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        text = raw
        while text.rstrip().endswith("\\") and index < len(lines):
            text = text.rstrip()[:-1] + " " + lines[index].strip()
            index += 1
        result.append(Command(_strip_comment(text).strip(), number))
    return result


def _strip_comment(text: str) -> str:
    """Drop a trailing ``# comment`` that is outside quotes (shlex's rule)."""
    quote: str | None = None
    for position, char in enumerate(text):
        if quote:
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char == "#" and (position == 0 or text[position - 1].isspace()):
            return text[:position]
    return text


_ASSIGN = re.compile(r"^(?P<name>[A-Z_][A-Z0-9_]*)=(?P<value>\S*)$")
_SUBSTITUTION = re.compile(r"^(?P<name>[A-Z_][A-Z0-9_]*)=\$\((?P<inner>.*)\)$")


def split_env(tokens: list[str]) -> tuple[dict[str, str], list[str]]:
    env: dict[str, str] = {}
    while tokens and _ASSIGN.match(tokens[0]):
        name, _, value = tokens[0].partition("=")
        env[name] = value
        tokens = tokens[1:]
    return env, tokens


# --------------------------------------------------------------------------------------------------------
# Shared expensive things (computed once per session, only when a block needs them)
# --------------------------------------------------------------------------------------------------------


def base_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(VENV_BIN), env.get("PATH", "")])
    env["PYTHONUNBUFFERED"] = "1"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["CDK_DISABLE_CLI_TELEMETRY"] = "true"
    for name in ("CDK_DEFAULT_ACCOUNT", "CDK_DEFAULT_REGION", "CDK_CONTEXT_JSON", "CDK_OUTDIR"):
        env.pop(name, None)
    env.update(extra)
    return env


def run(argv: list[str], *, cwd: Path, env: dict[str, str], timeout: int = TIMEOUT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        check=False,
    )


def _temporary_directory(prefix: str) -> Path:
    """A directory for what one session shares (a model, cloud assemblies), removed when the session ends."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(shutil.rmtree, path, True)
    return path


@functools.cache
def cdk_options(subcommand: str) -> frozenset[str]:
    result = run([str(CDK_CLI), subcommand, "--help"], cwd=REPO_ROOT, env=base_env())
    assert result.returncode == 0, result.stdout
    return frozenset(re.findall(r"(?:^|\s|,)(--?[A-Za-z][\w-]*)", result.stdout))


@functools.cache
def pytest_options() -> frozenset[str]:
    result = run([sys.executable, "-m", "pytest", "--help"], cwd=REPO_ROOT, env=base_env())
    assert result.returncode == 0, result.stdout
    return frozenset(re.findall(r"(?:^|\s|,)(--?[A-Za-z][\w-]*)", result.stdout))


# CDK snippets and the sample app are synthesized in ONE Python process (one jsii runtime instead of one per
# block: most of a small snippet's time is starting jsii). Each snippet runs with fresh globals, in its own
# working directory, and its apps write to its own cloud assembly directory.
CDK_RUNNER = r"""
import contextlib, io, json, os, runpy, sys, traceback
import aws_cdk as cdk

jobs = json.loads(open(sys.argv[1]).read())
BaseApp = cdk.App
results = {}
for job in jobs:
    class App(BaseApp):
        def __init__(self, *args, _outdir=job["outdir"], **kwargs):
            kwargs.setdefault("outdir", _outdir)
            super().__init__(*args, **kwargs)
    cdk.App = App
    os.chdir(job["cwd"])
    buffer = io.StringIO()
    try:
        with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
            if job["name"] == "sample-app":
                compose = runpy.run_path(job["app"], run_name="docs_sample_app")["compose_sample_stages"]
                app = App(context=job["context"])
                compose(app)
                app.synth()
            else:
                exec(compile(job["code"], job["name"], "exec"), {"__name__": "__main__"})
        results[job["name"]] = {"ok": True, "output": buffer.getvalue()}
    except BaseException:
        results[job["name"]] = {"ok": False, "output": buffer.getvalue() + traceback.format_exc()}
    finally:
        cdk.App = BaseApp
with open(sys.argv[2], "w") as handle:
    json.dump(results, handle)
"""
MOTO_FIXTURES = {"deployment-table", "embedding-bucket", "embedding-results"}


def is_cdk_block(block: Block) -> bool:
    return block.lang == "python" and re.search(r"^\s*(import aws_cdk|from aws_cdk)", block.text, re.M) is not None


@functools.cache
def cdk_batch() -> dict[str, dict[str, Any]]:
    """Every CDK python block and the sample app (default synth mode, as `cdk synth` composes it),
    synthesized once: name -> {ok, output, cwd, outdir}."""
    root = _temporary_directory("docs-cdk-")
    jobs: list[dict[str, Any]] = [
        {
            "name": "sample-app",
            "app": str(REPO_ROOT / "app.py"),
            "context": json.loads((REPO_ROOT / "cdk.json").read_text())["context"],
            "cwd": str(REPO_ROOT),
            "outdir": str(root / "sample-app"),
        }
    ]
    for number, block in enumerate(filter(is_cdk_block, ALL_BLOCKS)):
        cwd = root / f"block-{number}"
        cwd.mkdir()
        assert not set(block.fixtures) & MOTO_FIXTURES, f"{block.name}: CDK blocks take file fixtures only"
        world = World(cwd, "", base_env())
        with contextlib.redirect_stdout(io.StringIO()):
            for name in block.fixtures:
                FIXTURES[name](world)
        jobs.append({"name": block.name, "code": block.text, "cwd": str(cwd), "outdir": str(cwd / "cdk.out")})
    (root / "jobs.json").write_text(json.dumps(jobs))
    result = run(
        [sys.executable, "-c", CDK_RUNNER, str(root / "jobs.json"), str(root / "results.json")],
        cwd=root,
        env=base_env(),
    )
    assert result.returncode == 0, result.stdout
    results: dict[str, dict[str, Any]] = json.loads((root / "results.json").read_text())
    for job in jobs:
        results[job["name"]].update(cwd=job["cwd"], outdir=job["outdir"])
    return results


def sample_assembly() -> Path:
    sample = cdk_batch()["sample-app"]
    assert sample["ok"], sample["output"]
    return Path(sample["outdir"])


@functools.cache
def sample_stacks() -> dict[str, Path]:
    """Display name (``Stage/Stack``) and stack name of every stack of the sample app -> its template."""
    stacks: dict[str, Path] = {}
    for manifest in sample_assembly().rglob("manifest.json"):
        for artifact in json.loads(manifest.read_text()).get("artifacts", {}).values():
            if artifact.get("type") != "aws:cloudformation:stack":
                continue
            template = manifest.parent / artifact["properties"]["templateFile"]
            stacks[artifact["displayName"]] = template
            stacks[artifact["properties"].get("stackName", artifact["displayName"])] = template
    return stacks


@functools.cache
def buildspec_commands(name: str) -> tuple[str, ...]:
    """Build commands of the sample toolchain's CodeBuild project whose buildspec runs `cdk deploy` or
    `cdk destroy` (provisioning / deprovisioning)."""
    marker = {"provisioning": "cdk deploy", "deprovisioning": "cdk destroy"}[name]
    found = []
    for template in set(sample_stacks().values()):
        resources = json.loads(template.read_text()).get("Resources", {})
        for resource in resources.values():
            if resource.get("Type") != "AWS::CodeBuild::Project":
                continue
            spec = resource["Properties"].get("Source", {}).get("BuildSpec")
            if not isinstance(spec, str) or marker not in spec:
                continue
            found.append(tuple(json.loads(spec)["phases"]["build"]["commands"]))
    assert len(found) == 1, f"expected one CodeBuild project running {marker!r} in the sample app, found {found}"
    return found[0]


@functools.cache
def random_model() -> Path:
    path = _temporary_directory("docs-model-") / "resnet18-random.onnx"
    result = run(
        [sys.executable, "-m", "batch_job", "export-model", "--out", str(path), "--random"],
        cwd=path.parent,
        env=base_env(),
    )
    assert result.returncode == 0, result.stdout
    return path


# --------------------------------------------------------------------------------------------------------
# Fixtures a block names with <!-- doctest: fixture NAME -->
# --------------------------------------------------------------------------------------------------------


@dataclass
class World:
    cwd: Path
    endpoint: str
    env: dict[str, str]


def _reset_moto(endpoint: str) -> None:
    request = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")  # noqa: S310 - loopback moto
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback moto server
        assert response.status == 200


def _client(world: World, service: str) -> Any:
    import boto3

    return boto3.client(service, region_name="us-east-1", endpoint_url=world.endpoint)


def fixture_deployment_table(world: World) -> None:
    """moto: the DynamoDB table `Deployments` (partition key `id`), as DeploymentTable creates it."""
    _client(world, "dynamodb").create_table(
        TableName="Deployments",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def fixture_scp_files(world: World) -> None:
    """scps/ and published/ rendered from the catalog; policy.json, a.json, b.json: catalog policies."""
    from devops_blueprints.cli import main
    from devops_blueprints.guardrails import catalog

    assert main(["scp", "catalog", "--out", str(world.cwd / "scps")]) == 0
    assert main(["scp", "catalog", "--published", "--out", str(world.cwd / "published")]) == 0
    for file_name, policy in (
        ("policy.json", "approved-regions"),
        ("a.json", "deny-leave-organization"),
        ("b.json", "protect-guardduty"),
    ):
        (world.cwd / file_name).write_text(json.dumps(catalog.get(policy).render(), indent=2))


def fixture_cloudtrail_logs(world: World) -> None:
    """trail/: two gzip'd CloudTrail log files (one with calls from ap-south-1) and a digest file; the scp-files too."""
    from tests.guardrails.cloudtrail_samples import sample_trail

    fixture_scp_files(world)
    sample_trail(world.cwd / "trail")


def _jpeg(path: Path, colour: tuple[int, int, int]) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (320, 240), colour).save(path, "JPEG")


def fixture_photos(world: World) -> None:
    """photos/: two JPEGs and one file that is not an image."""
    _jpeg(world.cwd / "photos" / "cat.jpg", (200, 120, 40))
    _jpeg(world.cwd / "photos" / "dogs" / "dog.jpg", (40, 120, 200))
    (world.cwd / "photos" / "notes.jpg").write_text("not an image")


def fixture_resnet18_state_dict(world: World) -> None:
    """resnet18-f37072fd.pth: a ResNet-18 state_dict in torchvision's layout (random weights; no download)."""
    script = (
        "import sys, torch\n"
        "from batch_job.resnet import build_resnet18\n"
        "torch.save(build_resnet18().state_dict(), sys.argv[1])\n"
    )
    result = run([sys.executable, "-c", script, "resnet18-f37072fd.pth"], cwd=world.cwd, env=world.env)
    assert result.returncode == 0, result.stdout


EMBEDDING_RUN_ID = "20261121T120501Z-3f2a9c4e"
EMBEDDING_IMAGES = ("images/cats/1.jpg", "images/dogs/1.jpg")


def fixture_embedding_bucket(world: World) -> None:
    """moto: bucket `my-images` with two images and the run's manifest (3,000 other keys first, so array child
    3 of CHUNK_SIZE 1000 gets the two images), table `embeddings` (partition key `ImageId`);
    EMBEDDING_MODEL: a random-weight ResNet-18 (the image's baked-in model path does not exist here)."""
    s3 = _client(world, "s3")
    s3.create_bucket(Bucket="my-images")
    for index, key in enumerate(EMBEDDING_IMAGES):
        _jpeg(world.cwd / "upload" / key, (60 * index, 90, 150))
        s3.upload_file(str(world.cwd / "upload" / key), "my-images", key)
    manifest = [f"images/earlier/{index}.jpg" for index in range(3000)] + list(EMBEDDING_IMAGES)
    s3.put_object(
        Bucket="my-images",
        Key=f"manifests/{EMBEDDING_RUN_ID}/manifest.txt",
        Body="\n".join(manifest).encode(),
    )
    _client(world, "dynamodb").create_table(
        TableName="embeddings",
        KeySchema=[{"AttributeName": "ImageId", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "ImageId", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    world.env["EMBEDDING_MODEL"] = str(random_model())


def fixture_embedding_results(world: World) -> None:
    """embedding-bucket, then array child 3 of the run embeds the two images into `embeddings`."""
    fixture_embedding_bucket(world)
    env = {
        **world.env,
        "IMAGES_BUCKET": "my-images",
        "RESULTS_TABLE": "embeddings",
        "MANIFEST_KEY": f"manifests/{EMBEDDING_RUN_ID}/manifest.txt",
        "CHUNK_SIZE": "1000",
        "AWS_BATCH_JOB_ARRAY_INDEX": "3",
    }
    result = run([sys.executable, "-m", "batch_job", "run"], cwd=world.cwd, env=env)
    assert result.returncode == 0, result.stdout


def fixture_terraform_module(world: World) -> None:
    """infra/ (a module directory), state.json (`terraform show -json` output of tests/tf_import's full
    fixture) and a stub `terraform` first on PATH that prints it: real Terraform needs its providers from
    the internet to show a state."""
    state = REPO_ROOT / "tests" / "tf_import" / "fixtures" / "full_state.json"
    (world.cwd / "infra").mkdir()
    shutil.copy(state, world.cwd / "state.json")
    bin_dir = world.cwd / ".stub-bin"
    bin_dir.mkdir()
    stub = bin_dir / "terraform"
    stub.write_text(f'#!/bin/sh\n[ "$1" = show ] || exit 64\nexec cat {shlex.quote(str(state))}\n')
    stub.chmod(0o755)
    world.env["PATH"] = f"{bin_dir}{os.pathsep}{world.env['PATH']}"


FIXTURES: dict[str, Callable[[World], None]] = {
    "deployment-table": fixture_deployment_table,
    "scp-files": fixture_scp_files,
    "cloudtrail-logs": fixture_cloudtrail_logs,
    "photos": fixture_photos,
    "resnet18-state-dict": fixture_resnet18_state_dict,
    "embedding-bucket": fixture_embedding_bucket,
    "embedding-results": fixture_embedding_results,
    "terraform-module": fixture_terraform_module,
}


@pytest.fixture
def world(block: Block, tmp_path: Path, moto_server: str) -> World:
    _reset_moto(moto_server)
    env = base_env(AWS_ENDPOINT_URL=moto_server, CDK_OUTDIR=str(tmp_path / "cdk.out"))
    result = World(tmp_path, moto_server, env)
    for name in block.fixtures:
        assert name in FIXTURES, f"{block.name}: unknown fixture {name!r} (known: {', '.join(FIXTURES)})"
        print(f"fixture {name}: {(FIXTURES[name].__doc__ or '').strip()}")
        FIXTURES[name](result)
    return result


# --------------------------------------------------------------------------------------------------------
# Command rules: each returns None when it does not apply, else checks the command (raising on a problem)
# --------------------------------------------------------------------------------------------------------


def _matches_expected(command: Command, output: str) -> None:
    """Console output: every shown line must appear, in order (whitespace-normalised; `...` matches anything,
    a line of only `...` any number of lines)."""
    actual = [" ".join(line.split()) for line in output.splitlines() if line.strip()]
    position = 0
    skipping = False
    for expected in command.expected:
        normal = " ".join(expected.split())
        if normal == "...":
            skipping = True
            continue
        pattern = re.compile(".*".join(re.escape(part) for part in normal.split("...")))
        while position < len(actual) and not pattern.fullmatch(actual[position]):
            assert skipping, f"line {command.line}: expected {expected!r}, got {actual[position]!r}\n{output}"
            position += 1
        assert position < len(actual), f"line {command.line}: expected {expected!r} in the output:\n{output}"
        position += 1
        skipping = False


def _run_in_shell(block: Block, command: Command, world: World, env: dict[str, str] | None = None) -> str:
    result = run(["bash", "-c", command.text], cwd=world.cwd, env=env or world.env)
    assert result.returncode in block.exit_codes, (
        f"{block.name} line {command.line}: `{command.text}` exited {result.returncode} "
        f"(accepted: {sorted(block.exit_codes)}):\n{result.stdout}"
    )
    _matches_expected(command, result.stdout)
    return result.stdout


def _dry_parse(parser: Any, argv: list[str], command: Command) -> None:
    try:
        parser.parse_args(argv)
    except SystemExit as exc:
        raise AssertionError(f"line {command.line}: arguments rejected: {command.text}") from exc


def rule_project_cli(block: Block, command: Command, world: World, env: dict[str, str], argv: list[str]) -> str | None:
    if argv[:1] == ["devops-blueprints"]:
        from devops_blueprints.cli import build_parser

        parser, args = build_parser(), argv[1:]
    elif argv[:3] == ["python", "-m", "batch_job"]:
        from batch_job.cli import build_parser as build_job_parser

        parser, args = build_job_parser(), argv[3:]
    else:
        return None
    reason = block.directive("parse-only")
    if reason is not None:
        _dry_parse(parser, args, command)
        return f"arguments parsed, not run: {reason}"
    _run_in_shell(block, command, world, {**world.env, **env})
    return "ran against the fixtures"


def rule_cdk_synth(block: Block, command: Command, world: World, env: dict[str, str], argv: list[str]) -> str | None:
    if argv[:2] != ["cdk", "synth"]:
        return None
    out = world.cwd / "cdk.out"
    full = [str(CDK_CLI), *argv[1:], "--output", str(out), "--quiet", "--no-notices"]
    result = run(full, cwd=REPO_ROOT, env={**world.env, **env})
    assert result.returncode in block.exit_codes, f"line {command.line}: {command.text}\n{result.stdout}"
    assert (out / "manifest.json").is_file(), f"line {command.line}: no cloud assembly written"
    _matches_expected(command, result.stdout)
    return "ran in the repository (the app of cdk.json), with --output in a temporary directory"


def _selector_matches(selector: str, names: list[str]) -> bool:
    """CDK's stack patterns: `*` within one path segment, `**` across them."""
    pattern = re.escape(selector).replace(r"\*\*", "\0").replace(r"\*", "[^/]*").replace("\0", ".*")
    return any(re.fullmatch(pattern, name) for name in names)


@functools.cache
def _context_keys_known() -> str:
    sources = [REPO_ROOT / "app.py", REPO_ROOT / "cdk.json", *(REPO_ROOT / "devops_blueprints").rglob("*.py")]
    return "\n".join(path.read_text() for path in sources)


# cdk options followed by a value (a positional-looking token after them is not a stack selector)
_CDK_VALUE_OPTIONS = frozenset(
    ("--profile", "--trust", "--trust-for-lookup", "--cloudformation-execution-policies", "--require-approval", "-a")
)


def rule_cdk_offline(block: Block, command: Command, world: World, env: dict[str, str], argv: list[str]) -> str | None:
    if argv[:1] != ["cdk"] or len(argv) < 2 or argv[1] not in ("deploy", "destroy", "bootstrap", "diff", "ls"):
        return None
    options = cdk_options(argv[1])
    arguments = argv[2:]
    positionals = []
    index = 0
    while index < len(arguments):
        token = arguments[index]
        if token.startswith("-"):
            name = token.split("=", 1)[0]
            negated = "--" + name[len("--no-") :] if name.startswith("--no-") else name  # yargs booleans
            assert name in options or negated in options, f"line {command.line}: `cdk {argv[1]}` has no option {name}"
            if name in ("-c", "--context"):
                key = arguments[index + 1].split("=", 1)[0]
                assert f'"{key}"' in _context_keys_known(), f"line {command.line}: no code reads context {key!r}"
                index += 1
            elif name in _CDK_VALUE_OPTIONS and index + 1 < len(arguments):
                index += 1
            index += 1
            continue
        positionals.append(token)
        index += 1
    if block.directive("buildspec"):
        return "cdk options exist (stack names come from the build's environment)"
    if argv[1] == "bootstrap":
        for target in positionals:
            assert re.fullmatch(r"aws://\d{12}/[a-z]{2}(-[a-z]+)+-\d", target), f"line {command.line}: {target!r}"
        return "needs an AWS account: options exist in `cdk bootstrap --help`, environments are aws://ACCOUNT/REGION"
    names = sorted(sample_stacks())
    for selector in positionals:
        assert _selector_matches(selector, names), (
            f"line {command.line}: {selector!r} matches no stack of the sample app: {names}"
        )
    return f"needs an AWS account: options exist in `cdk {argv[1]} --help`, stack selectors match the sample app"


_AWS_GLOBAL = {
    "--profile",
    "--region",
    "--output",
    "--query",
    "--cli-binary-format",
    "--endpoint-url",
    "--no-cli-pager",
}
_AWS_S3 = {"cp", "sync", "ls", "mv", "rm", "mb", "rb", "presign", "website"}
_AWS_POSITIONAL = {("lambda", "invoke"): 1}  # outfile


def rule_aws_cli(block: Block, command: Command, world: World, env: dict[str, str], argv: list[str]) -> str | None:
    if argv[:1] != ["aws"]:
        return None
    import botocore.session
    from botocore import xform_name

    service, operation, arguments = argv[1], argv[2], argv[3:]
    if service == "s3":
        assert operation in _AWS_S3, f"line {command.line}: `aws s3 {operation}` is not an aws s3 command"
        return "needs an AWS account: `aws s3` high-level command exists"
    model = botocore.session.get_session().get_service_model(service)
    operations = {xform_name(name, "-"): name for name in model.operation_names}
    assert operation in operations, f"line {command.line}: {service} has no operation {operation}"
    members = model.operation_model(operations[operation]).input_shape
    parameters = {xform_name(name, "-") for name in (members.members if members else {})}
    positionals = 0
    index = 0
    while index < len(arguments):
        token = arguments[index]
        if token.startswith("--"):
            name = token[2:]
            assert token in _AWS_GLOBAL or name in parameters, (
                f"line {command.line}: `aws {service} {operation}` has no parameter {token}"
            )
            if index + 1 < len(arguments) and not arguments[index + 1].startswith("--"):
                value = arguments[index + 1]
                if value.startswith("file://"):
                    assert (REPO_ROOT / value[len("file://") :]).is_file(), f"line {command.line}: {value} missing"
                index += 1
        else:
            positionals += 1
        index += 1
    assert positionals <= _AWS_POSITIONAL.get((service, operation), 0), f"line {command.line}: stray arguments"
    if service == "cloudformation" and "--stack-name" in arguments:
        stack_name = arguments[arguments.index("--stack-name") + 1]
        template = sample_stacks().get(stack_name)
        assert template, f"line {command.line}: the sample app has no stack named {stack_name!r}"
        outputs = json.loads(template.read_text()).get("Outputs", {})
        for key in re.findall(r"OutputKey=='(\w+)'", " ".join(arguments)):
            assert key in outputs, f"line {command.line}: stack {stack_name} has no output {key} ({sorted(outputs)})"
        return "needs an AWS account: operation and parameters exist in botocore's model, the stack and its outputs in the sample app"
    return "needs an AWS account: the operation and its parameters exist in botocore's model"


def rule_make(block: Block, command: Command, world: World, env: dict[str, str], argv: list[str]) -> str | None:
    if argv[:1] != ["make"]:
        return None
    result = run(["make", "-n", *argv[1:]], cwd=REPO_ROOT, env=world.env)
    assert result.returncode == 0, f"line {command.line}: make -n {' '.join(argv[1:])}:\n{result.stdout}"
    return "`make -n` (the target exists; running make targets inside the tests would loop or take minutes)"


def rule_pytest(block: Block, command: Command, world: World, env: dict[str, str], argv: list[str]) -> str | None:
    if argv[:1] not in (["pytest"], [".venv/bin/pytest"]):
        return None
    for token in argv[1:]:
        if token.startswith("-"):
            assert token.split("=", 1)[0] in pytest_options(), f"line {command.line}: pytest has no option {token}"
        else:
            assert (REPO_ROOT / token.split("::", 1)[0]).exists(), f"line {command.line}: no test path {token}"
    return "paths exist and options are in `pytest --help` (this test is part of that run)"


def rule_benchmarks(block: Block, command: Command, world: World, env: dict[str, str], argv: list[str]) -> str | None:
    if argv[:3] != ["python", "-m", "benchmarks"]:
        return None
    from benchmarks.__main__ import MODULES

    for name in argv[3:]:
        assert name in MODULES, f"line {command.line}: no benchmark {name!r} (known: {', '.join(MODULES)})"
    return "benchmark modules exist (benchmarks take minutes and measure, they do not check)"


def rule_pip(block: Block, command: Command, world: World, env: dict[str, str], argv: list[str]) -> str | None:
    if argv[:1] == ["pip"]:
        args = argv[1:]
    elif argv[:3] == ["python", "-m", "pip"]:
        args = argv[3:]
    else:
        return None
    if args[:1] == ["wheel"]:
        assert args[1:] == ["--no-deps", "-w", "dist", "."], f"line {command.line}: unexpected pip wheel arguments"
        assert (REPO_ROOT / "pyproject.toml").is_file() and (REPO_ROOT / "setup.py").is_file()
        return "the build is tests/test_wheel.py's (it builds this wheel and installs it in a fresh venv)"
    assert args[:1] == ["install"], f"line {command.line}: pip {args[:1]} has no rule"
    for requirement in args[1:]:
        if "==" in requirement:
            name, _, version = requirement.partition("==")
            installed = importlib.metadata.version(name)
            assert installed == version, f"line {command.line}: {name}=={version}, but the lock installs {installed}"
        else:
            assert requirement.startswith("dist/devops_blueprints-") and requirement.endswith(".whl"), requirement
    return "needs a package index: pinned versions are the ones the project's lock installs"


def rule_export_path(block: Block, command: Command, world: World, env: dict[str, str], argv: list[str]) -> str | None:
    if argv[:1] != ["export"] or not argv[1].startswith("PATH="):
        return None
    for entry in argv[1][len("PATH=") :].split(":"):
        if entry == "$PATH":
            continue
        assert entry.startswith("$PWD/"), f"line {command.line}: {entry!r} is not under the checkout"
        path = REPO_ROOT / entry[len("$PWD/") :]
        assert path.is_dir(), f"line {command.line}: {path} does not exist after make setup"
    return "every directory it adds exists after `make setup`"


def rule_cat(block: Block, command: Command, world: World, env: dict[str, str], argv: list[str]) -> str | None:
    if argv[:1] != ["cat"]:
        return None
    earlier = [other.text for other in commands(block) if other.line < command.line]
    for file_name in argv[1:]:
        assert any(file_name in text.split() for text in earlier), f"line {command.line}: nothing writes {file_name}"
    return "prints a file an earlier command of the block writes"


COMMAND_RULES = (
    rule_project_cli,
    rule_cdk_synth,
    rule_cdk_offline,
    rule_aws_cli,
    rule_make,
    rule_pytest,
    rule_benchmarks,
    rule_pip,
    rule_export_path,
    rule_cat,
)


def check_command(block: Block, command: Command, world: World) -> str:
    substitution = _SUBSTITUTION.match(command.text)
    if substitution:  # VAR=$(inner command): check the inner command
        inner = Command(substitution["inner"], command.line)
        return f"{substitution['name']}=$(...): " + check_command(block, inner, world)
    env, argv = split_env(command.tokens)
    assert argv, f"{block.name} line {command.line}: no command in {command.text!r}"
    for rule in COMMAND_RULES:
        outcome = rule(block, command, world, env, argv)
        if outcome is not None:
            return outcome
    raise AssertionError(f"{block.name} line {command.line}: no doc-test rule for `{command.text}`")


def check_buildspec(block: Block) -> None:
    name = block.directive("buildspec")
    assert name, block.name
    expected = [shlex.split(text) for text in buildspec_commands(name)]
    for command in commands(block):
        assert command.tokens in expected, (
            f"{block.name} line {command.line}: not a command of the {name} buildspec:\n  {command.text}\n"
            "buildspec:\n  " + "\n  ".join(buildspec_commands(name))
        )


# --------------------------------------------------------------------------------------------------------
# Python blocks
# --------------------------------------------------------------------------------------------------------

_IMPORT = re.compile(r"^\s*(?:from\s+(devops_blueprints[\w.]*)\s+import|import\s+(devops_blueprints[\w.]*))", re.M)


def run_python(block: Block, request: pytest.FixtureRequest) -> str:
    for match in _IMPORT.finditer(block.text):
        module = match[1] or match[2]
        assert module in PUBLIC_MODULES, (
            f"{block.name}: imports {module}; docs import only from {', '.join(sorted(PUBLIC_MODULES))}"
        )
    if is_cdk_block(block):
        outcome = cdk_batch()[block.name]
        for name in block.fixtures:
            print(f"fixture {name}: {(FIXTURES[name].__doc__ or '').strip()}")
        assert outcome["ok"], f"{block.name} failed:\n{outcome['output']}"
        manifest = Path(outcome["outdir"]) / "manifest.json"
        assert manifest.is_file(), f"{block.name} builds a CDK app but synthesizes nothing (call app.synth())"
        return "ran (in the shared CDK process) and synthesized a cloud assembly"
    world: World = request.getfixturevalue("world")
    script = world.cwd / "snippet.py"
    script.write_text(block.text)
    result = run([sys.executable, str(script)], cwd=world.cwd, env=world.env)
    assert result.returncode == 0, f"{block.name} failed:\n{result.stdout}"
    return "ran"


_COMMANDISH = re.compile(r"^\s*(\$ |make |cdk |aws |devops-blueprints |python |pip )")


# --------------------------------------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("block", ALL_BLOCKS, ids=[block.name for block in ALL_BLOCKS])
def test_code_block(block: Block, request: pytest.FixtureRequest) -> None:
    for key, value in block.directives:
        print(f"directive {key}: {value}")
    if block.lang == "json":
        json.loads(block.text)
        print("json: parses")
        return
    if block.lang == "text":
        offending = [line for line in block.text.splitlines() if _COMMANDISH.match(line)]
        assert not offending, f"{block.name}: a `text` block is an illustration, but it holds commands: {offending}"
        print("text: an illustration, not run")
        return
    assert block.lang in ("python", "bash", "console"), (
        f"{block.name}: no doc-test rule for a block of language {block.lang or '(none)'!r}: "
        "use python, bash, console, json or text"
    )
    if block.lang == "python":
        print(f"python: {run_python(block, request)}")
        return
    world: World = request.getfixturevalue("world")
    if block.directive("buildspec"):
        check_buildspec(block)
        print(f"buildspec {block.directive('buildspec')}: every command is one of the synthesized buildspec's")
    found = commands(block)
    assert found, f"{block.name}: a command block without commands"
    for command in found:
        print(f"line {command.line}: {check_command(block, command, world)}: {command.text}")


@pytest.fixture
def block() -> Block:  # overridden by parametrize; lets `world` depend on the block
    raise AssertionError("used only through parametrize")


def test_relative_links_resolve() -> None:
    problems = []
    for page in PAGES:
        for line, target in links(page):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
                continue
            path_part, _, anchor = target.partition("#")
            resolved = (page.parent / path_part).resolve() if path_part else page
            where = f"{page.relative_to(REPO_ROOT)}:{line}"
            if not resolved.exists():
                problems.append(f"{where}: {target} -> {resolved} does not exist")
            elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
                problems.append(f"{where}: {target}: no heading #{anchor} in {resolved.name}")
    assert not problems, "\n".join(problems)


def test_readme_links_every_docs_page() -> None:
    readme = REPO_ROOT / "README.md"
    linked = {(readme.parent / target.partition("#")[0]).resolve() for _line, target in links(readme)}
    missing = [page.name for page in PAGES[1:] if page.resolve() not in linked]
    assert not missing, f"README.md does not link {missing}"


def test_every_page_has_blocks_or_is_prose() -> None:
    """The parser sees the pages' blocks (a broken fence would hide the rest of a page from the tests)."""
    for page in PAGES:
        text = page.read_text()
        opened = len(re.findall(r"^\s*```", text, re.M))
        assert opened == 2 * len(parse_page(page)[0]), page


def test_slug_rules() -> None:
    assert github_slug("`DevOpsGuruAppBoundary` — tag coverage") == "devopsguruappboundary--tag-coverage"
    assert github_slug("The embedding job (`batch_job/`)") == "the-embedding-job-batch_job"
    assert github_slug("Cross-account: the workload account's bootstrap trust") == (
        "cross-account-the-workload-accounts-bootstrap-trust"
    )


def test_unknown_command_fails() -> None:
    """No silent skips: a block command that no rule knows is an error, not a pass."""
    block = Block(REPO_ROOT / "README.md", 1, "bash", "rm -rf /tmp/nothing\n")
    world = World(REPO_ROOT, "http://127.0.0.1:1", base_env())
    with pytest.raises(AssertionError, match="no doc-test rule"):
        check_command(block, commands(block)[0], world)


def test_selector_patterns() -> None:
    names = ["Observability/DevOpsGuru", "Embedding/Embedding", "Embedding-Embedding"]
    assert _selector_matches("Observability/*", names)
    assert _selector_matches("Embedding-Embedding", names)
    assert not _selector_matches("Observability/Missing", names)
