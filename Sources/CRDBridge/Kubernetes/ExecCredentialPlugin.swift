import Foundation
import Synchronization

/// A kubeconfig user's `exec` credential plugin (`gke-gcloud-auth-plugin`, `aws eks get-token`,
/// `kubelogin`, …): a command that prints an `ExecCredential` whose `status.token` is the bearer
/// token, as kubectl runs it (client.authentication.k8s.io v1 and v1beta1). The bridge runs
/// unattended, so a plugin that insists on a terminal (`interactiveMode: Always`) is refused, and
/// only tokens are taken (a plugin that returns a client certificate is named in the error).
public struct ExecCredentialPlugin: Sendable, Hashable {
  public var command: String
  public var arguments: [String]
  public var environment: [EnvironmentVariable]
  public var apiVersion: String
  /// What the kubeconfig says to do when the command is missing.
  public var installHint: String?
  /// The kubeconfig, for messages.
  public var origin: String

  public struct EnvironmentVariable: Sendable, Hashable, Decodable {
    public var name: String
    public var value: String
  }

  public static let apiVersions = [
    "client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1",
  ]
  /// The longest a plugin may take, in seconds (a cloud CLI fetching a token over the network).
  public var timeout: Double = 60

  /// A token and when it expires (nil: until the server refuses it).
  public struct Credential: Sendable, Hashable {
    public var token: String
    public var expiry: Date?
  }

  /// Runs the plugin and reads its `ExecCredential`.
  public func run() async throws(KubernetesAPIError) -> Credential {
    let result: (status: Int32, out: Data, err: Data, timedOut: Bool)
    do {
      result = try await execute()
    } catch {
      var message = "exec plugin '\(command)' (\(origin)) could not be started: \(error)"
      if let installHint { message += "; \(installHint)" }
      throw .credentials(message)
    }
    let stderr = String(decoding: result.err.prefix(2000), as: UTF8.self)
      .trimmingCharacters(in: .whitespacesAndNewlines)
    let said = stderr.isEmpty ? "" : "; it said: \(stderr)"
    if result.timedOut {
      let limit = timeout == timeout.rounded() ? String(Int(timeout)) : String(timeout)
      throw .credentials(
        "exec plugin '\(command)' (\(origin)) did not finish within \(limit) s and was killed\(said)"
      )
    }
    guard result.status == 0 else {
      var message = "exec plugin '\(command)' (\(origin)) failed with exit status \(result.status)"
      if result.status == 127, let installHint { message += "; \(installHint)" }
      throw .credentials(message + said)
    }
    return try parse(result.out)
  }

  /// `ExecCredential` JSON → the token; every way it can be wrong named.
  func parse(_ data: Data) throws(KubernetesAPIError) -> Credential {
    func fail(_ what: String) -> KubernetesAPIError {
      .credentials("exec plugin '\(command)' (\(origin)): \(what)")
    }
    guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
      throw fail("its output is not a JSON object (an ExecCredential)")
    }
    guard object["kind"] as? String == "ExecCredential" else {
      throw fail("its output has kind '\(object["kind"] ?? "")', expected ExecCredential")
    }
    guard object["apiVersion"] as? String == apiVersion else {
      throw fail(
        "its output has apiVersion '\(object["apiVersion"] ?? "")', but the kubeconfig asked for \(apiVersion)"
      )
    }
    guard let status = object["status"] as? [String: Any] else {
      throw fail("its ExecCredential has no status")
    }
    guard let token = status["token"] as? String, !token.isEmpty else {
      if status["clientCertificateData"] != nil {
        throw fail(
          "it returned a client certificate; l7mp takes only tokens from exec plugins (give the user a token or client-certificate-data instead)"
        )
      }
      throw fail("its ExecCredential status has no token")
    }
    var expiry: Date? = nil
    if let stamp = status["expirationTimestamp"] as? String {
      guard let date = Self.rfc3339(stamp) else {
        throw fail("expirationTimestamp '\(stamp)' is not an RFC 3339 time")
      }
      expiry = date
    }
    return Credential(token: token, expiry: expiry)
  }

  static func rfc3339(_ text: String) -> Date? {
    let plain = ISO8601DateFormatter()
    plain.formatOptions = [.withInternetDateTime]
    if let d = plain.date(from: text) { return d }
    let fractional = ISO8601DateFormatter()
    fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    return fractional.date(from: text)
  }

  /// The command with `KUBERNETES_EXEC_INFO` (non-interactive) and the kubeconfig's variables,
  /// bounded by `timeout`. A command without a `/` is looked up in PATH, as kubectl does.
  func execute() async throws -> (status: Int32, out: Data, err: Data, timedOut: Bool) {
    let process = Process()
    if command.contains("/") {
      process.executableURL = URL(fileURLWithPath: command)
      process.arguments = arguments
    } else {
      process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
      process.arguments = [command] + arguments
    }
    var env = ProcessInfo.processInfo.environment
    for v in environment { env[v.name] = v.value }
    env["KUBERNETES_EXEC_INFO"] =
      #"{"apiVersion":"\#(apiVersion)","kind":"ExecCredential","spec":{"interactive":false}}"#
    process.environment = env
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = FileHandle.nullDevice
    try process.run()
    let timedOut = Mutex(false)
    let seconds = timeout
    let watchdog = Task {
      try await Task.sleep(for: .seconds(seconds))
      timedOut.withLock { $0 = true }
      // SIGKILL: a child inherits ignored signals, and a proxy or bridge process ignores SIGTERM
      // (its lifecycle handles it), so SIGTERM would not stop the plugin.
      kill(process.processIdentifier, SIGKILL)
    }
    // Both pipes are drained while the plugin runs (a full pipe would block it), on threads of
    // their own: blocking reads on Dispatch's few global threads (two on a 2-core machine) would
    // starve other work.
    let collected = await withCheckedContinuation {
      (done: CheckedContinuation<(Data, Data), Never>) in
      let errData = Mutex(Data())
      let errRead = DispatchSemaphore(value: 0)
      Thread.detachNewThread {
        let d = err.fileHandleForReading.readDataToEndOfFile()
        errData.withLock { $0 = d }
        errRead.signal()
      }
      Thread.detachNewThread {
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        errRead.wait()
        process.waitUntilExit()
        done.resume(returning: (outData, errData.withLock { $0 }))
      }
    }
    watchdog.cancel()
    return (process.terminationStatus, collected.0, collected.1, timedOut.withLock { $0 })
  }
}

/// The last token a plugin gave, reused until a minute before it expires or until the server
/// refuses it (401), as kubectl does.
final class ExecCredentialCache: Sendable {
  let plugin: ExecCredentialPlugin
  private let cached = Mutex<ExecCredentialPlugin.Credential?>(nil)

  init(plugin: ExecCredentialPlugin) { self.plugin = plugin }

  func token(now: Date = Date()) async throws(KubernetesAPIError) -> String {
    if let c = cached.withLock({ $0 }), c.expiry.map({ $0.timeIntervalSince(now) > 60 }) ?? true {
      return c.token
    }
    let fresh = try await plugin.run()
    cached.withLock { $0 = fresh }
    return fresh.token
  }

  func invalidate() { cached.withLock { $0 = nil } }
}
