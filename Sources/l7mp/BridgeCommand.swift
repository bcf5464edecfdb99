import ArgumentParser
import CRDBridge
import Config
import Foundation
import Logging
import Proxy
import ServiceLifecycle

/// `l7mp bridge --manifests DIR…`: configures the proxies the manifests select, and keeps them so.
struct BridgeCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "bridge",
    abstract: "Keep proxies configured from VirtualService manifests.",
    discussion: """
      Reads the manifests (as 'l7mp crd translate' does), and brings every pod of every proxy \
      set to its configuration through the pod's control API (podIP:--api-port): the smallest \
      set of calls, changed objects replaced in place so live sessions survive (docs/bridge.md). \
      The files are polled for changes, and every --resync seconds the proxies are checked again \
      (a restarted proxy is configured anew). Manifests with errors change nothing.

      With --once: one pass, then exit 0 when every proxy is in step, 1 when not (manifest \
      errors, a proxy unreachable or refusing a change), 2 on usage errors.

      With --kubernetes instead: the objects come from the Kubernetes API (list + watch of \
      VirtualServices, Routes, Services, EndpointSlices, Pods; the in-cluster service account, \
      or --kubeconfig), and a pass runs after every change (docs/kubernetes.md).
      """
  )

  @Option(
    name: .customLong("manifests"), parsing: .singleValue,
    help: "A manifest file or directory (repeatable).")
  var manifests: [String] = []

  @Flag(help: "Read the objects from the Kubernetes API instead of manifest files.")
  var kubernetes = false

  @Option(help: "With --kubernetes: a kubeconfig file (default: the in-cluster service account).")
  var kubeconfig: String?

  @Option(help: "With --kubeconfig: the context to use (default: its current-context).")
  var context: String?

  @Option(help: "With --kubernetes: watch one namespace only (default: all).")
  var namespace: String?

  @Option(help: "The port of every proxy's control API.")
  var apiPort: Int = AdminConfig.defaultPort

  @Option(help: "A file holding the bearer token the proxies' control APIs require.")
  var apiTokenFile: String?

  @Option(help: "Seconds between checks of the manifest files for changes.")
  var poll: Double = 1

  @Option(help: "Seconds between full passes even without changes.")
  var resync: Double = 10

  @Flag(help: "Run one pass and exit: 0 when every proxy is in step, 1 otherwise.")
  var once = false

  func validate() throws {
    if manifests.isEmpty == !kubernetes {
      throw ValidationError(
        "give either the manifests (l7mp bridge --manifests examples/udp-gateway) or --kubernetes")
    }
    if !kubernetes, kubeconfig != nil || context != nil || namespace != nil {
      throw ValidationError("--kubeconfig, --context and --namespace go with --kubernetes")
    }
    if once && kubernetes { throw ValidationError("--once works with --manifests only") }
    guard (1...65535).contains(apiPort) else {
      throw ValidationError("--api-port \(apiPort) is out of range 1–65535")
    }
    guard poll > 0, resync > 0 else { throw ValidationError("--poll and --resync must be > 0") }
  }

  func run() async throws {
    var token: String? = nil
    if let apiTokenFile {
      do {
        token = try ControlAPIOptions.token(fromFile: apiTokenFile)
      } catch {
        Output.error("l7mp bridge: \(error)\n")
        throw ExitCode(2)
      }
    }
    if kubernetes {
      try await runKubernetes(token: token)
      return
    }
    let bridge = ManifestBridge(
      paths: manifests, apiPort: apiPort, token: token,
      pollInterval: .milliseconds(Int64(poll * 1000)),
      resyncInterval: .milliseconds(Int64(resync * 1000)), logger: Logger(label: "l7mp.bridge"))
    if once {
      let pass = await bridge.pass()
      for d in pass.diagnostics { Output.error(d + "\n") }
      for o in pass.outcomes {
        let what =
          o.applied.isEmpty ? "in step" : o.applied.map(\.description).joined(separator: ", ")
        Output.write("\(o.target): \(o.failure ?? what)\n")
      }
      throw ExitCode(pass.converged ? 0 : 1)
    }
    Output.write("l7mp: bridge watching \(manifests.joined(separator: ", "))\n")
    try await SignalHandling.run(
      [BridgeService { await bridge.run() }], logger: Logger(label: "l7mp.lifecycle"))
  }
}

extension BridgeCommand {
  func runKubernetes(token: String?) async throws {
    let logger = Logger(label: "l7mp.bridge")
    let client: KubernetesClient
    do {
      let config =
        try kubeconfig.map { path throws(ConfigError) in
          try KubernetesConfig.kubeconfig(path: path, context: context)
        } ?? KubernetesConfig.inCluster()
      client = try KubernetesClient(config: config, logger: logger)
    } catch {
      Output.error("l7mp bridge: \(error)\n")
      throw ExitCode(2)
    }
    let bridge = KubernetesBridge(
      client: client, namespace: namespace, apiPort: apiPort, token: token,
      resyncInterval: .milliseconds(Int64(resync * 1000)), logger: logger)
    Output.write("l7mp: bridge watching the Kubernetes API at \(client.config.server)\n")
    try await SignalHandling.run(
      [BridgeService { await bridge.run() }], logger: Logger(label: "l7mp.lifecycle"))
    try? await client.shutdown()
  }
}

/// The bridge's passes as a service: stops on SIGTERM or SIGINT.
struct BridgeService: Service {
  let body: @Sendable () async -> Void

  func run() async throws {
    await withGracefulShutdownHandler {
      await cancelWhenGracefulShutdown { await body() }
    } onGracefulShutdown: {
    }
  }
}
