import ArgumentParser
import Config
import Foundation
import Logging
import Proxy
import RuleLang

/// `l7mp run --config FILE`: the proxy, from a static configuration.
struct RunCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "run",
    abstract: "Run the proxy from a configuration file.",
    discussion: """
      FILE holds listeners, clusters and rulelists in l7mp's shapes (docs/proxy.md). Rulelist \
      'file:' paths are relative to FILE's folder. Every rule source is checked and compiled \
      before anything binds; an error names the file, line and column, and nothing runs.

      Once every listener is bound, one line per listener goes to standard output:
        l7mp: listener NAME (PROTOCOL) on ADDRESS
      then 'l7mp: ready'. SIGTERM or SIGINT closes listeners and sessions and exits 0.

      Exit status: 0 after a graceful shutdown; 2 when the configuration cannot be read, has \
      errors, or a listener cannot bind.
      """
  )

  @Option(name: .customLong("config"), help: "The configuration file (JSON; YAML once supported).")
  var config: String

  @Option(help: "Address the control API binds to (writes need a token unless it is loopback).")
  var apiBind: String = "127.0.0.1"

  @Option(help: "TCP port of the control API.")
  var apiPort: Int = AdminConfig.defaultPort

  @Option(help: "A file holding the bearer token the control API requires.")
  var apiTokenFile: String?

  func validate() throws {
    guard (1...65535).contains(apiPort) else {
      throw ValidationError("--api-port \(apiPort) is out of range 1–65535")
    }
  }

  func run() async throws {
    guard let data = FileManager.default.contents(atPath: config) else {
      var isDir: ObjCBool = false
      let exists = FileManager.default.fileExists(atPath: config, isDirectory: &isDir)
      Output.error(
        "l7mp run: cannot read '\(config)': \(exists ? (isDir.boolValue ? "is a directory" : "permission denied") : "no such file")\n"
      )
      throw ExitCode(2)
    }
    let proxyConfig: ProxyConfig
    do {
      proxyConfig = try ConfigDocument.decode(ProxyConfig.self, from: Array(data), name: config)
    } catch {
      Output.error("l7mp run: \(error.description)\n")
      throw ExitCode(2)
    }
    let base = URL(fileURLWithPath: config).deletingLastPathComponent().path
    let runtime = ProxyRuntime(baseDirectory: base)
    do {
      try await runtime.load(proxyConfig)
    } catch {
      Output.error("l7mp run: \(config): \(Self.describe(error))\n")
      await runtime.shutdown()
      throw ExitCode(2)
    }
    // The control API is started from these by its own component (not part of the data plane).
    let api = ControlAPIOptions(bind: apiBind, port: apiPort, tokenFile: apiTokenFile)
    Logger(label: "l7mp.run").debug(
      "control API options", metadata: ["bind": "\(api.bind)", "port": "\(api.port)"])
    // Printed once signals are trapped: a SIGTERM right after "ready" shuts down gracefully.
    let announce: @Sendable () async -> Void = {
      for l in await runtime.listeners() {
        let address = runtime.localAddress(ofListener: l.name)?.displayText ?? "?"
        Output.write("l7mp: listener \(l.name) (\(l.spec.protocol.rawValue)) on \(address)\n")
      }
      Output.write("l7mp: ready\n")
    }
    try await SignalHandling.run(
      [ProxyService(runtime: runtime, onStart: announce)], logger: Logger(label: "l7mp.lifecycle"))
  }

  /// A control error as a person reads it; rule errors with their diagnostics.
  static func describe(_ error: ControlError) -> String {
    if case .invalidRules(let source, let diagnostics) = error {
      let renderer = DiagnosticRenderer(color: false)
      return error.message + "\n" + renderer.render(diagnostics, in: source)
    }
    return error.message
  }
}
