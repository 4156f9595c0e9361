"""The Batch job's Docker images, verified without a Docker daemon.

What is checked (the Dockerfiles are parsed by tests/batch_job/dockerfile.py, never copied into the tests):

* Static, fast: the images install their packages from the job's hash-checked locks (``make lock``:
  ``batch_job/requirements.txt``, ``requirements-gpu.txt``, ``requirements-export.txt``, each COPY'd into
  the stage), and every version they pin is the version the project's dev lock (``requirements-dev.txt``)
  pins, which is what the tests run; only onnxruntime-gpu and what it alone pulls in are GPU-only. The
  runtime pins satisfy ``batch_job/pyproject.toml``'s dependencies (the image installs the package
  with ``--no-deps``) and hold no torch/onnx; every COPY source is in the build context and not
  dockerignored; the model path agrees across export ``--out``, ``COPY --from``, ``EMBEDDING_MODEL`` and
  ``engine.DEFAULT_MODEL``; ``CMD`` is ``python -m batch_job run``, accepted by the job's parser, with a
  ``python`` on PATH; the runtime runs as a non-root user created in the image; ``requires-python``
  admits each stage's Python (3.11 in python:3.11-*, 3.12 = Ubuntu 24.04's python3 in the CUDA image).
* GPU pairing (downloads from PyPI, a few seconds; skipped when PyPI is unreachable): the GPU runtime's
  pins, with all their dependencies, resolve to cp312 manylinux wheels installable on Ubuntu 24.04
  (glibc 2.39), so that ``pip install`` cannot fall back to a source build; the pinned onnxruntime-gpu's
  CUDA provider library links the CUDA major of the base image (libcudart/libcublas), cuDNN 9, and
  nothing a CUDA runtime image lacks; the GPU pin differs from the CPU pin only because onnxruntime-gpu
  at the CPU version links another CUDA major. Found on 2026-11-21 (``readelf -d`` of
  libonnxruntime_providers_cuda.so, cp312 wheels): onnxruntime-gpu 1.22.0, 1.24.4 and 1.26.0 link
  libcudart.so.12, libcublas.so.12 and libcudnn.so.9 (CUDA 12 + cuDNN 9, what
  nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04 provides); 1.27.0, 1.28.0, 1.30.0, 1.31.0 and 1.31.1
  link libcudart.so.13 and libcublas.so.13 (CUDA 13), so the CPU image's 1.31.1 cannot run on the CUDA
  12.8 base image and the GPU image keeps onnxruntime-gpu 1.22.0 (1.26.0 is the newest CUDA 12 build).
* Slow (``-m slow``; fresh virtualenvs built once per module): the runtime stage's own ``pip install``
  commands (parsed, run in order, in a copy of the build context; pinned and locked installs wheels-only, and this
  machine is Debian bookworm like python:3.11-slim-bookworm) give an environment without torch or
  onnx that embeds a folder (``local``) and an S3 manifest into DynamoDB (``run`` against moto) with the
  vectors the dev environment computes; the export stage's commands give an environment whose
  ``export-model`` output the runtime environment loads; and when a Python 3.12 is on this machine, the
  GPU runtime's commands on 3.12 give an environment that runs the job on ONNX Runtime's CPU fallback
  (no GPU here) with the same vectors. Run time on this 2-core machine: about 15 s without the slow tests,
  about 95 s with them.

Not verifiable here: the base images themselves (Docker Hub), apt packages of the CUDA image, the
pretrained checkpoint download in the export stage (download.pytorch.org is unreachable; ``--random``
stands in), CUDA execution on a GPU, and the Docker build itself (layer order, file permissions for
USER 10001: this machine's Python lives under /root, which another uid cannot read).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import urllib.request
import venv
from collections.abc import Iterator
from fnmatch import fnmatch
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from batch_job.cli import build_parser
from batch_job.engine import DEFAULT_MODEL, Embedder
from batch_job.preprocess import preprocess
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name, parse_wheel_filename

from tests.batch_job import dockerfile, elf, images
from tests.batch_job.test_local import write_tree
from tests.batch_job.test_run import BUCKET, RUN_ID, create_resources, failures_object, scan_items
from tests.support import locks

REPO_ROOT = Path(__file__).resolve().parents[2]
CONTEXT = REPO_ROOT / "batch_job"  # the build context of both images
VARIANTS = ("Dockerfile", "Dockerfile.gpu")
# Facts about the base images the tests cannot pull: Ubuntu's python3 and glibc per release, and the cuDNN
# major that nvidia/cuda's "-cudnn-" images ship per CUDA major.
UBUNTU_PYTHON = {"22.04": "3.10", "24.04": "3.12"}
UBUNTU_GLIBC_MINOR = {"22.04": 35, "24.04": 39}
CUDNN_MAJOR = {12: 9, 13: 9}
# What a "-cudnn-runtime" image offers a CUDA program: the CUDA runtime libraries (cuda-libraries-X-Y), cuDNN,
# the driver's libcuda (mounted by the NVIDIA container toolkit) and the C/C++ runtime of Ubuntu.
CUDA_RUNTIME_IMAGE_LIBRARIES = {
    *("libcudart", "libcublas", "libcublasLt", "libcufft", "libcurand", "libcusparse", "libcusolver"),
    *("libnvrtc", "libnvJitLink", "libnvjpeg", "libcudnn", "libcuda"),
    *("libc", "libm", "libdl", "librt", "libpthread", "libstdc++", "libgcc_s", "ld-linux-x86-64"),
}
CUDA_IMAGE = re.compile(r"nvidia/cuda:(?P<major>\d+)\.\d+(?:\.\d+)?-cudnn-runtime-ubuntu(?P<ubuntu>\d+\.\d+)$")
PYTHON_IMAGE = re.compile(r"python:(?P<version>3\.\d+)[-.\w]*$")
PYPI = "https://pypi.org/simple/"


def parsed(variant: str) -> dockerfile.Dockerfile:
    return dockerfile.parse(CONTEXT / variant)


def dev_pins() -> dict[str, str]:
    return locks.pins(REPO_ROOT / "requirements-dev.txt")


def stage_python(stage: dockerfile.Stage) -> str:
    """The Python version a stage's ``python``/``pip`` run on, from its base image."""
    if match := PYTHON_IMAGE.match(stage.base):
        return match["version"]
    if match := CUDA_IMAGE.match(stage.base):
        return UBUNTU_PYTHON[match["ubuntu"]]
    raise AssertionError(f"unknown base image {stage.base!r}: add its Python version to this test")


def cuda_base() -> re.Match[str]:
    base = parsed("Dockerfile.gpu").stage("runtime").base
    match = CUDA_IMAGE.match(base)
    assert match, f"GPU runtime base {base!r} is not an nvidia/cuda cudnn runtime image"
    return match


def soname_major(needed: list[str], library: str) -> int | None:
    majors = {int(m[1]) for name in needed if (m := re.fullmatch(re.escape(library) + r"\.so\.(\d+)", name))}
    assert len(majors) <= 1, f"{library} linked in several majors: {needed}"
    return majors.pop() if majors else None


# ---------------------------------------------------------------------------------------------- the parser


def test_parser_reads_continuations_global_args_and_pip_options(tmp_path: Path) -> None:
    path = tmp_path / "Dockerfile"
    path.write_text(
        "# syntax=docker/dockerfile:1\n"
        "ARG BASE=python:3.11-slim\n"
        "FROM ${BASE} AS build\n"
        "RUN pip install --index-url https://example.invalid/simple a==1 \\\n"
        "    # a comment inside the continuation\n"
        " && python -m pip install --no-deps -c constraints.txt B_c==2.0 .\n"
        "ENV A=1 B=two\n"
        "FROM $BASE\n"
        'CMD ["python", "-m", "x"]\n'
    )
    parsed_file = dockerfile.parse(path)
    build, final = parsed_file.stages
    assert (build.name, build.base, final.name, final.base) == ("build", "python:3.11-slim", None, "python:3.11-slim")
    first, second = build.pip_installs()
    assert first.requirements == ("a==1",) and first.options == (("--index-url", "https://example.invalid/simple"),)
    assert second.requirements == ("B_c==2.0", ".") and second.has_option("--no-deps")
    assert build.pins() == {"a": "1", "b-c": "2.0"}
    assert build.env() == {"A": "1", "B": "two"}
    assert final.cmd() == ["python", "-m", "x"]
    with pytest.raises(ValueError, match=r"pip install 'c>=1': expected an exact pin"):
        dockerfile.pip_installs("pip install c>=1")[0].pins()


# ------------------------------------------------------------------------------------ static consistency


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("stage_name", ["export", "runtime"])
def test_pins_are_the_versions_the_tests_run(variant: str, stage_name: str) -> None:
    # GIVEN the stage's installs: its lock files (read from the build context) and exact pins
    stage = parsed(variant).stage(stage_name)
    pins = stage.pins()
    expected = dev_pins()
    assert pins, f"{variant} {stage_name}: no pinned pip install found"
    assert [f for p in stage.pip_installs() for f in p.requirement_files()], f"{variant} {stage_name}: no lock"
    # THEN every version is the dev lock's, except onnxruntime-gpu and what only it pulls in
    gpu_only = locks.required_by(CONTEXT / "requirements-gpu.txt", "onnxruntime-gpu")
    for name, version in pins.items():
        if name not in expected:
            assert (variant, stage_name) == ("Dockerfile.gpu", "runtime") and name in gpu_only, (
                f"{variant} {stage_name}: {name}=={version} is not in requirements-dev.txt"
            )
            continue
        assert version == expected[name], f"{variant} {stage_name}: {name}=={version}, tests run {expected[name]}"


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_lock_the_image_installs_is_copied_into_the_stage_first(variant: str) -> None:
    for stage in parsed(variant).stages:
        copied: set[str] = set()
        for instruction in stage.instructions:
            if instruction.keyword == "COPY":
                flags, sources, _ = dockerfile.parse_copy(instruction.value)
                copied.update(sources if "from" not in flags else [])
            for pip in dockerfile.pip_installs(instruction.value) if instruction.keyword == "RUN" else []:
                for name in pip.requirement_files():
                    assert name in copied, f"{variant} {stage.name}: pip install -r {name} before COPY {name}"
                    assert pip.has_option("--require-hashes"), f"{variant} {stage.name}: -r {name} without hashes"


@pytest.mark.parametrize("variant", VARIANTS)
def test_runtime_pins_satisfy_the_package_dependencies_without_torch(variant: str) -> None:
    # GIVEN the runtime stage installs the package with --no-deps, so its pins must cover every dependency
    runtime = parsed(variant).stage("runtime")
    pins = runtime.pins()
    assert [p.requirements for p in runtime.pip_installs() if p.has_option("--no-deps")] == [(".",)]
    provided = dict(pins)
    if "onnxruntime-gpu" in provided:
        provided["onnxruntime"] = provided["onnxruntime-gpu"]  # the same `onnxruntime` module, CUDA build
    project = tomllib.loads((CONTEXT / "pyproject.toml").read_text())["project"]
    for text in project["dependencies"]:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        assert name in provided, f"{variant}: runtime does not install {text}"
        assert requirement.specifier.contains(provided[name]), f"{variant}: {name}=={provided[name]} vs {text}"
    # THEN nothing that only export-model needs is in the runtime
    assert not {"torch", "onnx", "torchvision"} & set(pins), f"{variant}: runtime installs {sorted(pins)}"
    assert not any("[" in r for p in runtime.pip_installs() for r in p.requirements)


@pytest.mark.parametrize("variant", VARIANTS)
def test_copy_sources_are_in_the_build_context(variant: str) -> None:
    parsed_file = parsed(variant)
    ignored = [
        line.strip()
        for line in (CONTEXT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    names = [stage.name for stage in parsed_file.stages]
    for position, stage in enumerate(parsed_file.stages):
        for flags, sources, _ in stage.copies():
            if "from" in flags:
                assert flags["from"] in names[:position], f"{variant}: COPY --from={flags['from']} is no earlier stage"
                continue
            for source in sources:
                assert (CONTEXT / source).exists(), f"{variant}: COPY {source} is not in batch_job/"
                assert not any(fnmatch(source, pattern) for pattern in ignored), f"{variant}: {source} is ignored"
    assert (CONTEXT / "batch_job" / "__main__.py").is_file()


@pytest.mark.parametrize("variant", VARIANTS)
def test_model_path_agrees_from_export_to_runtime(variant: str) -> None:
    parsed_file = parsed(variant)
    exports = [
        re.search(r"python -m batch_job export-model --out (\S+)", run.value)
        for run in parsed_file.stage("export").all("RUN")
    ]
    (exported,) = [match[1] for match in exports if match]
    (copy,) = [(flags, sources, dest) for flags, sources, dest in parsed_file.stage("runtime").copies() if flags]
    assert copy[0] == {"from": "export"}
    assert exported.startswith(copy[1][0].rstrip("/") + "/") and copy[1] == [copy[2]]
    model = parsed_file.stage("runtime").env()["EMBEDDING_MODEL"]
    assert model == exported == str(DEFAULT_MODEL), f"{variant}: EMBEDDING_MODEL {model}, exported {exported}"


@pytest.mark.parametrize("variant", VARIANTS)
def test_cmd_runs_the_job_subcommand_with_a_python_on_path(variant: str) -> None:
    runtime = parsed(variant).stage("runtime")
    command = runtime.cmd()
    assert command[:3] == ["python", "-m", "batch_job"]
    assert build_parser().parse_args(command[3:]).command == "run"
    if not PYTHON_IMAGE.match(runtime.base):
        # Ubuntu has no `python` command: it must come from a venv created in the image and first on PATH
        venvs = [m[1] for run in runtime.all("RUN") if (m := re.search(r"python3 -m venv (\S+)", run.value))]
        assert venvs, f"{variant}: no venv created on {runtime.base}"
        assert runtime.env().get("PATH", "").startswith(f"{venvs[-1]}/bin:"), f"{variant}: venv not first on PATH"


def test_job_definition_runs_the_images_cmd() -> None:
    # The Batch job definition sets the container command (it overrides CMD): it must be the same command
    from devops_blueprints.constructs.embeddings.embedding_batch import DEFAULT_COMMAND

    for variant in VARIANTS:
        assert list(DEFAULT_COMMAND) == parsed(variant).stage("runtime").cmd(), variant


@pytest.mark.parametrize("variant", VARIANTS)
def test_runtime_runs_as_a_non_root_user_created_in_the_image(variant: str) -> None:
    runtime = parsed(variant).stage("runtime")
    user = runtime.user()
    assert user is not None, f"{variant}: no USER in the runtime stage (it would run as root)"
    assert user.split(":")[0] not in {"", "0", "root"}, f"{variant}: USER {user} is root"
    created = [
        m for run in runtime.all("RUN") if (m := re.search(r"useradd\b.*?(?:--uid|-u) (\d+)\b.*?(\w+)$", run.value))
    ]
    assert created and user in {created[-1][1], created[-1][2]}, f"{variant}: USER {user} is not created"
    # AND nothing runs after USER (root-owned files stay read-only for the job)
    last_user = max(i.line for i in runtime.all("USER"))
    assert all(run.line < last_user for run in runtime.all("RUN"))


@pytest.mark.parametrize("variant", VARIANTS)
def test_requires_python_admits_each_stages_python(variant: str) -> None:
    requires = SpecifierSet(tomllib.loads((CONTEXT / "pyproject.toml").read_text())["project"]["requires-python"])
    for stage in parsed(variant).stages:
        assert requires.contains(stage_python(stage)), f"{variant} {stage.name}: Python {stage_python(stage)}"


def test_gpu_runtime_installs_onnxruntime_gpu_only() -> None:
    pins = parsed("Dockerfile.gpu").stage("runtime").pins()
    assert "onnxruntime-gpu" in pins and "onnxruntime" not in pins, f"GPU runtime installs {sorted(pins)}"
    # the CPU image has the CPU build only
    assert "onnxruntime" in parsed("Dockerfile").stage("runtime").pins()
    assert "onnxruntime-gpu" not in parsed("Dockerfile").stage("runtime").pins()


# --------------------------------------------------------------------------------- GPU pairing (PyPI)


def ubuntu_download_args(ubuntu: str, python: str) -> list[str]:
    """pip download options for CPython ``python`` on Ubuntu ``ubuntu`` (x86_64): binary wheels only."""
    platforms = [f"manylinux_2_{minor}_x86_64" for minor in range(UBUNTU_GLIBC_MINOR[ubuntu], 16, -1)]
    platforms += ["manylinux2014_x86_64"]
    abi = "cp" + python.replace(".", "")
    args = ["--only-binary=:all:", "--python-version", python, "--implementation", "cp", "--abi", abi]
    args += ["--abi", "abi3", "--abi", "none"]
    for platform in platforms:
        args += ["--platform", platform]
    return args


@pytest.fixture(scope="module")
def pypi() -> None:
    try:
        with urllib.request.urlopen(PYPI + "onnxruntime-gpu/", timeout=10) as response:  # noqa: S310 - fixed URL
            assert response.status == 200
    except OSError as exc:
        pytest.skip(f"PyPI is unreachable ({exc}): the GPU wheel checks need it")


def pip_download(destination: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--dest", str(destination), *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.fixture(scope="module")
def gpu_runtime_wheels(pypi: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Every wheel the GPU runtime's pinned pip install resolves to (dependencies included), for its Ubuntu."""
    runtime = parsed("Dockerfile.gpu").stage("runtime")
    destination = tmp_path_factory.mktemp("gpu-wheels")
    pins = [f"{name}=={version}" for name, version in runtime.pins().items()]
    result = pip_download(destination, *ubuntu_download_args(cuda_base()["ubuntu"], stage_python(runtime)), *pins)
    assert result.returncode == 0, f"no binary wheels for {pins} on {runtime.base}:\n{result.stderr[-3000:]}"
    yield destination
    shutil.rmtree(destination, ignore_errors=True)  # several hundred MB


def cuda_provider_needed(wheel: Path, tmp_path: Path) -> list[str]:
    import zipfile

    member = "onnxruntime/capi/libonnxruntime_providers_cuda.so"
    with zipfile.ZipFile(wheel) as archive:
        archive.extract(member, tmp_path)
    try:
        return elf.needed(tmp_path / member)
    finally:
        (tmp_path / member).unlink()  # a few hundred MB


def test_gpu_runtime_pins_resolve_to_cp312_wheels_for_ubuntu_24_04(gpu_runtime_wheels: Path) -> None:
    runtime = parsed("Dockerfile.gpu").stage("runtime")
    abi = "cp" + stage_python(runtime).replace(".", "")
    assert all(w.suffix == ".whl" for w in gpu_runtime_wheels.iterdir()), "a dependency is only an sdist"
    wheels = {str(canonicalize_name(parse_wheel_filename(w.name)[0])): w.name for w in gpu_runtime_wheels.iterdir()}
    for name, version in runtime.pins().items():
        assert name in wheels, f"{name}=={version} did not resolve to a wheel"
        _, got, _, tags = parse_wheel_filename(wheels[name])
        assert str(got) == version
        # a wheel for this CPython, a pure one, or a stable-ABI one built for this CPython or an older one
        assert any(
            t.interpreter in {abi, "py3"} or (t.abi == "abi3" and int(t.interpreter[2:]) <= int(abi[2:])) for t in tags
        ), wheels[name]
    # AND the compiled ones really are CPython 3.12 builds for x86_64 Linux
    for name in ("onnxruntime-gpu", "numpy", "pillow", "pyarrow"):
        assert f"-{abi}-{abi}-manylinux" in wheels[name] and wheels[name].endswith("_x86_64.whl"), wheels[name]


def test_gpu_onnxruntime_links_the_cuda_and_cudnn_of_the_base_image(gpu_runtime_wheels: Path, tmp_path: Path) -> None:
    (wheel,) = gpu_runtime_wheels.glob("onnxruntime_gpu-*.whl")
    needed = cuda_provider_needed(wheel, tmp_path)
    cuda = int(cuda_base()["major"])
    assert soname_major(needed, "libcudart") == cuda, needed
    assert soname_major(needed, "libcublas") == cuda, needed
    assert soname_major(needed, "libcudnn") in (None, CUDNN_MAJOR[cuda]), needed
    # AND nothing it links is missing from a CUDA runtime image (no TensorRT, no CUDA toolkit extras)
    missing = {name for name in needed if name.split(".so")[0] not in CUDA_RUNTIME_IMAGE_LIBRARIES}
    assert not missing, f"{wheel.name} links libraries {cuda_base()[0]} does not have: {sorted(missing)}"


def test_gpu_pin_differs_from_the_cpu_pin_only_where_cuda_forces_it(pypi: None, tmp_path: Path) -> None:
    cpu = parsed("Dockerfile").stage("runtime").pins()["onnxruntime"]
    gpu = parsed("Dockerfile.gpu").stage("runtime").pins()["onnxruntime-gpu"]
    if gpu == cpu:
        return  # both images run the same ONNX Runtime; the test above checks it fits the base image
    runtime = parsed("Dockerfile.gpu").stage("runtime")
    args = ubuntu_download_args(cuda_base()["ubuntu"], stage_python(runtime))
    result = pip_download(tmp_path, "--no-deps", *args, f"onnxruntime-gpu=={cpu}")
    assert result.returncode == 0, result.stderr[-2000:]
    (wheel,) = tmp_path.glob("onnxruntime_gpu-*.whl")
    needed = cuda_provider_needed(wheel, tmp_path)
    wheel.unlink()
    # THEN onnxruntime-gpu at the CPU image's version needs another CUDA than the base image has
    cudart = soname_major(needed, "libcudart")
    assert cudart is not None and cudart != int(cuda_base()["major"]), (
        f"onnxruntime-gpu=={cpu} fits {runtime.base} ({needed}): pin it in Dockerfile.gpu instead of {gpu}"
    )


# ------------------------------------------------------------------------ the stages' pip installs (slow)


def clean_env(python: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"}}
    env["PATH"] = f"{python.parent}{os.pathsep}{env.get('PATH', '')}"
    return {**env, **extra}


def url_reachable(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5):  # noqa: S310 - an index URL from our own Dockerfile
            return True
    except OSError:
        return False


def build_stage(stage: dockerfile.Stage, interpreter: str, root: Path) -> Path:
    """A virtualenv with what ``stage``'s pip installs give, run in order in a copy of the build context.

    COPY sources (not --from) are copied from batch_job/ as the Docker build does, minus dockerignored
    caches. Pinned installs get ``--only-binary=:all:`` so that a source build cannot hide a missing wheel. An ``--index-url`` that is unreachable from here is dropped (the torch CPU wheel then comes from
    this machine's wheel directory, checked by the caller).
    """
    env_dir, app = root / "venv", root / "app"
    app.mkdir(parents=True)
    if interpreter == sys.executable:
        venv.EnvBuilder(with_pip=True).create(env_dir)
    else:
        subprocess.run([interpreter, "-m", "venv", str(env_dir)], check=True, capture_output=True, timeout=300)
    python = env_dir / "bin" / "python"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build")
    for flags, sources, destination in stage.copies():
        if "from" in flags:
            continue
        for source in sources:
            target = app / destination if not destination.endswith("/") else app / destination / Path(source).name
            if (CONTEXT / source).is_dir():
                shutil.copytree(CONTEXT / source, target, ignore=ignore)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(CONTEXT / source, target)
    for pip in stage.pip_installs():
        tokens = list(pip.tokens)
        if pip.requirement_files() or (pip.pins(CONTEXT) and len(pip.pins(CONTEXT)) == len(pip.requirements)):
            # Wheels only: the slim image has no compiler (this machine's glibc is bookworm's, like the image's)
            tokens.insert(0, "--only-binary=:all:")
        for option in ("--index-url", "-i"):
            if option in tokens and not url_reachable(tokens[tokens.index(option) + 1]):
                position = tokens.index(option)
                del tokens[position : position + 2]
        result = subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", *tokens],
            cwd=app,
            env=clean_env(python),
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        assert result.returncode == 0, f"pip install {' '.join(tokens)}:\n{result.stderr[-3000:]}"
    return python


def run_in(
    python: Path, *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python args`` with a clean environment plus ``env``; by default outside the repository."""
    return subprocess.run(
        [str(python), *args],
        cwd=cwd or python.parent.parent.parent,
        env=clean_env(python, **(env or {})),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.fixture(scope="module")
def runtime_python(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    runtime = parsed("Dockerfile").stage("runtime")
    assert sys.version_info[:2] == tuple(int(p) for p in stage_python(runtime).split("."))
    root = tmp_path_factory.mktemp("runtime")
    yield build_stage(runtime, sys.executable, root)
    shutil.rmtree(root, ignore_errors=True)


def runtime_env() -> dict[str, str]:
    """The runtime stage's ENV that matters to the job (EMBEDDING_MODEL is set per test)."""
    env = parsed("Dockerfile").stage("runtime").env()
    return {k: v for k, v in env.items() if not k.startswith("PIP_") and k not in {"PATH", "EMBEDDING_MODEL"}}


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("images")
    write_tree(
        root,
        {
            **{f"photos/img-{n}.jpg": images.jpeg(images.photo(seed=40 + n)) for n in range(4)},
            "photos/corrupt.jpg": images.invalid_images()["bad/corrupt.jpg"],
        },
    )
    return root


def check_local_run(
    python: Path, image_folder: Path, model: Path, embedder: Embedder, out: Path
) -> subprocess.CompletedProcess[str]:
    """``python -m batch_job local`` in ``python``'s venv: exit 0, summary, failures, rows = dev vectors."""
    result = run_in(
        python,
        "-m",
        "batch_job",
        "local",
        "--images",
        str(image_folder),
        "--out",
        str(out),
        "--model",
        str(model),
        env=runtime_env(),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "summary: images=5 embedded=4 failed=1 " in result.stdout
    failures = (out.parent / f"{out.name}.failures.jsonl").read_text().splitlines()
    assert len(failures) == 1 and json.loads(failures[0])["image_id"] == "photos/corrupt.jpg"
    rows = pq.read_table(out).to_pydict()
    assert sorted(rows["image_id"]) == [f"photos/img-{n}.jpg" for n in range(4)]
    for image_id, vector in zip(rows["image_id"], rows["vector"], strict=True):
        expected = embedder.embed(preprocess((image_folder / image_id).read_bytes())[None])[0]
        np.testing.assert_allclose(np.array(vector, dtype=np.float32), expected, rtol=1e-4, atol=1e-5)
    return result


@pytest.mark.slow
def test_runtime_environment_has_neither_torch_nor_onnx(runtime_python: Path) -> None:
    for module in ("torch", "onnx"):
        result = run_in(runtime_python, "-c", f"import {module}")
        assert result.returncode != 0 and f"No module named '{module}'" in result.stderr, (module, result.stderr)
    # AND the job imports from the installed package, and pip finds every declared dependency installed
    where = run_in(runtime_python, "-c", "import batch_job, onnxruntime; print(batch_job.__file__)")
    assert where.returncode == 0 and where.stdout.startswith(str(runtime_python.parent.parent)), where
    check = run_in(runtime_python, "-m", "pip", "check")
    assert check.returncode == 0, check.stdout


@pytest.mark.slow
def test_runtime_environment_embeds_a_folder_locally(
    runtime_python: Path, image_folder: Path, model_path: Path, embedder: Embedder, tmp_path: Path
) -> None:
    result = check_local_run(runtime_python, image_folder, model_path, embedder, tmp_path / "v.parquet")
    assert "on CPUExecutionProvider" in result.stderr


@pytest.mark.slow
def test_runtime_environment_runs_a_manifest_into_dynamodb(
    aws: str, runtime_python: Path, model_path: Path, embedder: Embedder
) -> None:
    # GIVEN images and a broken one in the bucket, listed in a run manifest (the submitter's contract)
    objects = {
        **{f"images/img-{n}.jpg": images.jpeg(images.photo(seed=60 + n)) for n in range(3)},
        "images/corrupt.jpg": images.invalid_images()["bad/corrupt.jpg"],
    }
    env = create_resources(objects, sorted(objects))
    job_env = {
        **runtime_env(),
        **env,
        "EMBEDDING_MODEL": str(model_path),
        "AWS_ENDPOINT_URL": aws,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    # WHEN the image's CMD runs in the runtime environment, from its WORKDIR (the copied build context) and
    # with a HOME that does not exist (useradd --no-create-home)
    root = runtime_python.parent.parent.parent
    job_env["HOME"] = str(root / "home" / "job")
    result = run_in(runtime_python, *parsed("Dockerfile").stage("runtime").cmd()[1:], cwd=root / "app", env=job_env)
    # THEN the items are in DynamoDB with the dev environment's vectors, and the failure is recorded
    assert result.returncode == 0, result.stderr[-3000:]
    assert "summary: images=4 embedded=3 failed=1 " in result.stdout
    items = scan_items()
    assert sorted(items) == [f"images/img-{n}.jpg" for n in range(3)]
    for image_id, item in items.items():
        vector = np.frombuffer(item["Vector"].value, dtype=item["DataType"])
        assert item["Dimension"] == len(vector) == 512
        expected = embedder.embed(preprocess(objects[image_id])[None])[0]
        np.testing.assert_allclose(vector, expected, rtol=1e-4, atol=1e-5)
    assert [f["image_id"] for f in failures_object(0)] == ["images/corrupt.jpg"]
    assert f"run {RUN_ID} child 0: 4 images from s3://{BUCKET}/" in result.stderr


@pytest.mark.slow
def test_export_stage_writes_a_model_the_runtime_environment_loads(
    runtime_python: Path, image_folder: Path, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> None:
    # GIVEN the export stage's pip installs (torch from the CPU wheel, onnx, onnxruntime) in a fresh venv
    export = parsed("Dockerfile").stage("export")
    root = tmp_path_factory.mktemp("export")
    request.addfinalizer(lambda: shutil.rmtree(root, ignore_errors=True))  # torch: about a GB
    python = build_stage(export, sys.executable, root)
    torch_version = run_in(python, "-c", "import torch; print(torch.__version__)")
    assert torch_version.stdout.strip() == export.pins()["torch"] == dev_pins()["torch"], torch_version
    # WHEN its export-model runs (random weights: the pretrained checkpoint cannot be downloaded here)
    model = tmp_path_factory.mktemp("model") / "opt" / "model" / DEFAULT_MODEL.name
    result = run_in(python, "-m", "batch_job", "export-model", "--out", str(model), "--random")
    assert result.returncode == 0, result.stderr[-3000:]
    # THEN the runtime environment (no torch, no onnx) embeds with that file, as the dev environment does
    out = tmp_path_factory.mktemp("out") / "v.parquet"
    check_local_run(runtime_python, image_folder, model, Embedder(model), out)


def python312() -> str | None:
    """A working CPython 3.12 on this machine (Ubuntu 24.04's python3 is 3.12), if any."""
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates = [shutil.which("python3.12"), *map(str, sorted(pyenv.glob("3.12.*/bin/python3.12"), reverse=True))]
    for candidate in filter(None, candidates):
        probe = subprocess.run(
            [candidate, "-c", "import sys, venv; print(sys.version_info[:2] == (3, 12))"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if probe.stdout.strip() == "True":  # a pyenv shim for a version not selected here exits 127
            return candidate
    return None


@pytest.fixture(scope="module")
def gpu_runtime_python(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    runtime = parsed("Dockerfile.gpu").stage("runtime")
    interpreter = python312()
    if interpreter is None or stage_python(runtime) != "3.12":
        pytest.skip("no CPython 3.12 on this machine to stand in for Ubuntu 24.04's python3")
    root = tmp_path_factory.mktemp("gpu-runtime")
    yield build_stage(runtime, interpreter, root)
    shutil.rmtree(root, ignore_errors=True)


@pytest.mark.slow
def test_gpu_runtime_environment_falls_back_to_cpu_with_the_same_vectors(
    gpu_runtime_python: Path, image_folder: Path, model_path: Path, embedder: Embedder, tmp_path: Path
) -> None:
    version = run_in(gpu_runtime_python, "-c", "import sys, onnxruntime as o; print(sys.version[:4], o.__version__)")
    gpu_pin = parsed("Dockerfile.gpu").stage("runtime").pins()["onnxruntime-gpu"]
    assert version.stdout.split() == ["3.12", gpu_pin], version
    # WHEN the job runs where no CUDA library exists, it asks for CUDA first, then uses ONNX Runtime's CPU
    result = check_local_run(gpu_runtime_python, image_folder, model_path, embedder, tmp_path / "v.parquet")
    assert "CUDAExecutionProvider" in result.stderr  # ONNX Runtime's failed attempt to load the CUDA provider
    assert "on CPUExecutionProvider" in result.stderr
    # AND every dependency is installed, except that onnxruntime-gpu does not count as `onnxruntime` for pip
    # (the package declares onnxruntime; the image installs it with --no-deps, so the CPU build never lands)
    check = run_in(gpu_runtime_python, "-m", "pip", "check")
    problems = [line for line in check.stdout.splitlines() if line.strip()]
    assert all(
        re.fullmatch(r"devops-blueprints-batch-job \S+ requires onnxruntime, which is not installed\.", p)
        for p in problems
    ), problems
