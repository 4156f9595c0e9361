// Oracle for tests/guardrails/test_oracle.py: decides SCP requests with @cloud-copilot/iam-simulate.
//
// stdin:  {"policies": {"<id>": <policy document>, ...},
//          "cases": [{"levels": [["<policy id>", ...], ...],      // root first, account last
//                     "request": {"action", "resource", "principal", "account", "context": {key: value(s)}}}]}
// stdout: {"decisions": ["ALLOWED" | "DENIED" | "ERROR: <message>", ...]}   (one per case, in order)
//
// Only the SCP layer is evaluated (the library's analyzeControlPolicies, as its runSimulation does for
// SCPs): identity policies, resource policies and service-specific authorizers (KMS key policies, STS
// trust policies) would decide things SCPs do not, so they take no part. The library's package exports
// only its entry point, so the engine modules are imported by file path.
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { pathToFileURL } from 'node:url'

const require = createRequire(import.meta.url)
const simulateRoot = join(dirname(require.resolve('@cloud-copilot/iam-simulate')), '..', 'esm')
const load = (path) => import(pathToFileURL(join(simulateRoot, path)).href)

const { loadPolicy } = await import('@cloud-copilot/iam-policy')
const { analyzeControlPolicies } = await load('core_engine/CoreSimulatorEngine.js')
const { AwsRequestImpl } = await load('request/request.js')
const { RequestContextImpl } = await load('requestContext.js')
const { DiscoveryContextKeyConstraints } = await load('context_keys/discoveryContextKeyConstraints.js')

const input = JSON.parse(readFileSync(0, 'utf8'))
const policies = new Map()
for (const [id, document] of Object.entries(input.policies)) {
  policies.set(id, loadPolicy(document, { name: id }))
}
const parameters = {
  simulationMode: 'Strict',
  discoveryContextKeyConstraints: new DiscoveryContextKeyConstraints([])
}

const decisions = input.cases.map((item) => {
  try {
    const levels = item.levels.map((ids, index) => ({
      orgIdentifier: `level-${index}`,
      policies: ids.map((id) => policies.get(id))
    }))
    const r = item.request
    const request = new AwsRequestImpl(
      r.principal,
      { resource: r.resource, accountId: r.account },
      r.action,
      new RequestContextImpl(r.context)
    )
    const analysis = analyzeControlPolicies(levels, request, parameters, 'scp')
    return analysis.result === 'Allowed' ? 'ALLOWED' : 'DENIED'
  } catch (error) {
    return `ERROR: ${error && error.message ? error.message : String(error)}`
  }
})
process.stdout.write(JSON.stringify({ decisions }) + '\n')
