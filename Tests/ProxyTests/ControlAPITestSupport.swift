import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Proxy
import ServiceLifecycle

/// Runs `body` against the control API over `fake`, without a socket (`.router`) or over a real
/// loopback socket (`.live`).
func withControlAPI(
  _ fake: FakeProxyControl = FakeProxyControl(),
  options: ControlAPIOptions = ControlAPIOptions(port: 0),
  setup: TestingSetup = .router,
  _ body: @escaping @Sendable (any TestClientProtocol, FakeProxyControl) async throws -> Void
) async throws {
  let router = ControlAPI.router(control: fake, options: options, logger: testLogger)
  let app = Application(router: router, logger: testLogger)
  try await app.test(setup) { client in try await body(client, fake) }
}

let testLogger: Logger = {
  var logger = Logger(label: "l7mp.test.api")
  logger.logLevel = .warning
  return logger
}()

extension TestClientProtocol {
  /// `method uri` with a JSON (or other) text body.
  func send(
    _ method: HTTPRequest.Method, _ uri: String, _ body: String? = nil,
    headers: HTTPFields = [:]
  ) async throws -> TestResponse {
    try await execute(
      uri: uri, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) })
  }
}

extension TestResponse {
  var text: String { String(buffer: body) }
  /// The body parsed as JSON.
  var json: Any? { try? JSONSerialization.jsonObject(with: Data(text.utf8)) }
  var object: [String: Any] { json as? [String: Any] ?? [:] }
  var array: [[String: Any]] { json as? [[String: Any]] ?? [] }
  /// `error.status` and `error.message` of an error answer.
  var error: (status: Int?, message: String) {
    let e = object["error"] as? [String: Any] ?? [:]
    return (e["status"] as? Int, e["message"] as? String ?? "")
  }
}

/// Bodies of the three kinds, wrapped as the API takes them.
enum Bodies {
  static func listener(_ name: String, port: Int = 9001, rules: String = "my-udp-endpoint")
    -> String
  {
    """
    {"listener": {"name": "\(name)", "spec": {"protocol": "UDP", "port": \(port)}, "rules": "\(rules)"}}
    """
  }
  static func cluster(_ name: String, port: Int = 9999) -> String {
    """
    {"cluster": {"name": "\(name)", "spec": {"protocol": "UDP", "port": \(port)},
     "endpoints": [{"spec": {"address": "127.0.0.3"}}]}}
    """
  }
  static func rulelist(_ name: String, source: String) -> String {
    let quoted = String(data: try! JSONEncoder().encode(source), encoding: .utf8)!
    return "{\"rulelist\": {\"name\": \"\(name)\", \"source\": \(quoted)}}"
  }
  static let goodRules = """
    rulelist my-udp-endpoint for UDP {
      rule all {
        route to worker
      }
    }
    """
  /// Two warnings (line 3 and 6), no error.
  static let rulesWithWarnings = """
    const timeout = 2s
    rulelist a for UDP {
      rule never when timeout == 3s {
        drop
      }
      rule always when timeout != 3s {
        drop
      }
    }
    """
  /// An error on line 3: a misspelt metadata key.
  static let rulesWithError = """
    rulelist a for UDP {
      rule r
        when IP.src_adr starts "10.0.0" {
        drop
      }
    }
    """
}

/// Runs `ControlAPI.application` as `l7mp run` does (its own socket, port 0 unless told, in a
/// service group), calls `body` with the bound port, then shuts the group down gracefully.
func withControlAPIServer(
  _ fake: FakeProxyControl, options: ControlAPIOptions = ControlAPIOptions(port: 0),
  _ body: @escaping @Sendable (Int) async throws -> Void
) async throws {
  let (ports, portSink) = AsyncStream.makeStream(of: Int.self)
  let app = ControlAPI.application(
    control: fake, options: options, logger: testLogger,
    onRunning: { port in portSink.yield(port) })
  let services = ServiceGroup(
    configuration: ServiceGroupConfiguration(services: [app], logger: testLogger))
  try await withThrowingTaskGroup(of: Void.self) { group in
    group.addTask { try await services.run() }
    do {
      guard let port = await first(of: ports, within: .seconds(30)) else {
        throw ControlAPITestError(message: "the control API did not start within 30 s")
      }
      try await body(port)
    } catch {
      await services.triggerGracefulShutdown()
      throw error
    }
    await services.triggerGracefulShutdown()
    try await group.waitForAll()
  }
}

struct ControlAPITestError: Error, CustomStringConvertible {
  var message: String
  var description: String { message }
}

/// The first element of `stream`, or nil if none comes within `limit`.
func first(of stream: AsyncStream<Int>, within limit: Duration) async -> Int? {
  await withTaskGroup(of: Int?.self) { group in
    group.addTask {
      for await value in stream { return value }
      return nil
    }
    group.addTask {
      try? await Task.sleep(for: limit)
      return nil
    }
    let first = await group.next() ?? nil
    group.cancelAll()
    return first
  }
}
