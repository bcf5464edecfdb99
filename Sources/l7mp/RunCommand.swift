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
      then, once the control API listens (docs/api.md),
        l7mp: control API on ADDRESS:PORT
        l7mp: ready
      SIGTERM or SIGINT closes the API, listeners and sessions and exits 0.

      Exit status: 0 after a graceful shutdown; 2 when the configuration cannot be read, has \
      errors, or a listener cannot bind.
      """
  )

  @Option(
    name: .customLong("config"),
    help: """
      The configuration file (YAML or JSON). Without it the proxy starts empty, to be \
      configured through the control API (as the bridge does).
      """)
  var config: String?

  @Option(
    help: """
      Address the control API binds to (default: the configuration's admin.address, else \
      127.0.0.1). Writes need a token unless it is a loopback address.
      """)
  var apiBind: String?

  @Option(
    help: "TCP port of the control API (default: admin.port, else 1234; 0 picks a free one).")
  var apiPort: Int?

  @Option(help: "A file holding the bearer token the control API then requires.")
  var apiTokenFile: String?

  func validate() throws {
    if let apiPort, !(0...65535).contains(apiPort) {
      throw ValidationError("--api-port \(apiPort) is out of range 0–65535")
    }
  }

  func run() async throws {
    guard let config else {
      try await serve(
        ProxyConfig(), base: FileManager.default.currentDirectoryPath, name: "(no configuration)")
      return
    }
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
    try await serve(
      proxyConfig, base: URL(fileURLWithPath: config).deletingLastPathComponent().path, name: config
    )
  }

  /// Loads the configuration, starts the control API, and runs until SIGTERM or SIGINT.
  func serve(_ proxyConfig: ProxyConfig, base: String, name config: String) async throws {
    ProcessLogging.configure(proxyConfig.admin.logLevel)
    let runtime = ProxyRuntime(baseDirectory: base)
    do {
      try await runtime.load(proxyConfig)
    } catch {
      Output.error("l7mp run: \(config): \(Self.describe(error))\n")
      await runtime.shutdown()
      throw ExitCode(2)
    }
    var api: ControlAPIOptions
    do {
      api = try ControlAPIOptions.forRun(
        admin: proxyConfig.admin, bind: apiBind, tokenFile: apiTokenFile)
    } catch {
      Output.error("l7mp run: \(error)\n")
      await runtime.shutdown()
      throw ExitCode(2)
    }
    if let apiPort { api.port = apiPort }
    // "ready" comes after both the listeners and the API are announced, and once signals are
    // trapped: a SIGTERM right after "ready" shuts down gracefully.
    let ready = ReadyLine(parts: 2)
    let announce: @Sendable () async -> Void = {
      for l in await runtime.listeners() {
        let address = runtime.localAddress(ofListener: l.name)?.displayText ?? "?"
        Output.write("l7mp: listener \(l.name) (\(l.spec.protocol.rawValue)) on \(address)\n")
      }
      ready.partDone()
    }
    let apiAddress = api.address
    let server = ControlAPI.application(
      control: runtime, options: api, logger: Logger(label: "l7mp.api")
    ) { port in
      Output.write("l7mp: control API on \(apiAddress):\(port)\n")
      ready.partDone()
    }
    try await SignalHandling.run(
      [ProxyService(runtime: runtime, onStart: announce), server],
      logger: Logger(label: "l7mp.lifecycle"))
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

/// Prints `l7mp: ready` once every part of the start-up has announced itself.
final class ReadyLine: @unchecked Sendable {
  private let lock = NSLock()
  private var remaining: Int

  init(parts: Int) { remaining = parts }

  func partDone() {
    lock.lock()
    remaining -= 1
    let done = remaining == 0
    lock.unlock()
    if done { Output.write("l7mp: ready\n") }
  }
}
