import Foundation
import Logging
import Testing

@testable import CRDBridge

/// kubeconfig `exec` credential plugins: real scripts run as kubectl would run them, and the
/// client's use of their tokens against the replaying API server.
@Suite struct ExecCredentialPluginTests {
  /// A plugin script in its own folder; `body` is bash. Returns the folder and the script's path.
  static func script(_ body: String) throws -> (folder: String, path: String) {
    let folder = try KubernetesFixtures.temporaryDirectory()
    let path = folder + "/plugin.sh"
    try ("#!/bin/bash\n" + body + "\n").write(toFile: path, atomically: true, encoding: .utf8)
    try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
    return (folder, path)
  }

  static func plugin(_ path: String, env: [String: String] = [:]) -> ExecCredentialPlugin {
    ExecCredentialPlugin(
      command: path, arguments: ["get-token", "--cluster", "c1"],
      environment: env.map { .init(name: $0.key, value: $0.value) },
      apiVersion: "client.authentication.k8s.io/v1", installHint: "install it with apt",
      origin: "user 'u' in the kubeconfig")
  }

  static func credential(_ token: String, expiry: String? = nil) -> String {
    let stamp = expiry.map { #", "expirationTimestamp": "\#($0)""# } ?? ""
    return
      #"{"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential", "status": {"token": "\#(token)"\#(stamp)}}"#
  }

  @Test func tokenArgumentsEnvironmentAndExecInfo() async throws {
    // The token is built from what the plugin was given, so each part is checked.
    let (folder, path) = try Self.script(
      #"""
      case "$KUBERNETES_EXEC_INFO" in *'"interactive":false'*) mode=batch ;; *) mode=tty ;; esac
      printf '{"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential", "status": {"token": "%s-%s-%s", "expirationTimestamp": "2030-01-02T03:04:05Z"}}' "$1$3" "$REGION" "$mode"
      """#)
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let c = try await Self.plugin(path, env: ["REGION": "eu"]).run()
    #expect(c.token == "get-tokenc1-eu-batch")
    #expect(c.expiry == ISO8601DateFormatter().date(from: "2030-01-02T03:04:05Z"))
  }

  @Test func failuresNameThePluginAndWhatItSaid() async throws {
    let cases: [(String, String)] = [
      (
        "echo 'login required: run gcloud auth login' >&2; exit 3",
        "failed with exit status 3; it said: login required: run gcloud auth login"
      ),
      ("echo not json", "its output is not a JSON object"),
      (
        #"echo '{"apiVersion": "client.authentication.k8s.io/v1", "kind": "Other", "status": {}}'"#,
        "kind 'Other', expected ExecCredential"
      ),
      (
        #"echo '{"apiVersion": "client.authentication.k8s.io/v1beta1", "kind": "ExecCredential", "status": {"token": "t"}}'"#,
        "apiVersion 'client.authentication.k8s.io/v1beta1', but the kubeconfig asked for"
      ),
      (
        #"echo '{"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential", "status": {"clientCertificateData": "x", "clientKeyData": "y"}}'"#,
        "it returned a client certificate"
      ),
      ("echo '\(Self.credential("t", expiry: "tomorrow"))'", "expirationTimestamp 'tomorrow'"),
    ]
    for (body, expected) in cases {
      let (folder, path) = try Self.script(body)
      defer { try? FileManager.default.removeItem(atPath: folder) }
      do {
        let c = try await Self.plugin(path).run()
        Issue.record("\(body) gave \(c)")
      } catch {
        #expect("\(error)".contains(expected), "\(body): \(error)")
        #expect("\(error)".contains("exec plugin '\(path)' (user 'u' in the kubeconfig)"))
      }
    }
    // A command that does not exist: exit 127 from env, with the kubeconfig's install hint.
    do {
      _ = try await Self.plugin("no-such-plugin-\(UUID().uuidString.prefix(6))").run()
      Issue.record("a missing plugin ran")
    } catch {
      #expect("\(error)".contains("exit status 127; install it with apt"), "\(error)")
    }
  }

  @Test func aHungPluginIsStoppedAtItsTimeout() async throws {
    let (folder, path) = try Self.script("exec sleep 30")
    defer { try? FileManager.default.removeItem(atPath: folder) }
    var plugin = Self.plugin(path)
    plugin.timeout = 0.5
    let started = ContinuousClock.now
    do {
      _ = try await plugin.run()
      Issue.record("a hung plugin returned")
    } catch {
      #expect("\(error)".contains("did not finish within 0.5 s and was killed"), "\(error)")
    }
    #expect(ContinuousClock.now - started < .seconds(20))
  }

  @Test func kubeconfigExecEntriesAreCheckedAndResolved() throws {
    let dir = try KubernetesFixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    func read(_ exec: String) throws -> KubernetesConfig {
      let json = """
        {"current-context": "c", "clusters": [{"name": "k", "cluster": {"server": "http://127.0.0.1:1"}}],
         "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
         "users": [{"name": "u", "user": {"exec": \(exec)}}]}
        """
      try json.write(toFile: dir + "/config", atomically: true, encoding: .utf8)
      return try KubernetesConfig.kubeconfig(path: dir + "/config")
    }
    let config = try read(
      #"{"apiVersion": "client.authentication.k8s.io/v1beta1", "command": "bin/auth", "args": ["x"], "env": [{"name": "A", "value": "1"}]}"#
    )
    guard case .exec(let p) = config.credentials else {
      Issue.record("expected an exec plugin, got \(config.credentials)")
      return
    }
    #expect(p.command == dir + "/bin/auth")
    #expect(p.arguments == ["x"] && p.environment == [.init(name: "A", value: "1")])
    #expect(p.apiVersion == "client.authentication.k8s.io/v1beta1")
    let onPath = try read(
      #"{"apiVersion": "client.authentication.k8s.io/v1", "command": "gke-gcloud-auth-plugin"}"#)
    #expect(onPath.credentials == .exec(Self.plain("gke-gcloud-auth-plugin")))
    #expect {
      try read(#"{"command": "x"}"#)
    } throws: { "\($0)".contains("exec apiVersion '' is not supported") }
    #expect {
      try read(
        #"{"apiVersion": "client.authentication.k8s.io/v1", "command": "x", "interactiveMode": "Always"}"#
      )
    } throws: { "\($0)".contains("needs a terminal (interactiveMode: Always)") }
  }

  static func plain(_ command: String) -> ExecCredentialPlugin {
    ExecCredentialPlugin(
      command: command, arguments: [], environment: [],
      apiVersion: "client.authentication.k8s.io/v1", installHint: nil,
      origin: "user 'u' in the kubeconfig")
  }

  /// The client sends the plugin's token, reuses it, and runs the plugin again after a 401.
  @Test func clientUsesTheTokenAndRefreshesItAfterA401() async throws {
    let (folder, path) = try Self.script(
      #"""
      n=$(( $(cat "$(dirname "$0")/count" 2>/dev/null || echo 0) + 1 ))
      echo "$n" > "$(dirname "$0")/count"
      printf '{"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential", "status": {"token": "tok-%s"}}' "$n"
      """#)
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let page = KubernetesFixtures.bytes("virtualservices-list-page2.json")
    let server = try await ReplayAPIServer(script: [
      .full(status: 200, body: page),
      .full(status: 401, body: Array(#"{"kind": "Status", "code": 401}"#.utf8)),
      .full(status: 200, body: page),
    ])
    var logger = Logger(label: "l7mp.bridge.kubernetes.test")
    logger.logLevel = .critical
    let client = try KubernetesClient(
      config: KubernetesConfig(server: server.url, credentials: .exec(Self.plugin(path))),
      logger: logger)
    _ = try await client.listPage(.virtualServices(), limit: 10, continueToken: nil)
    await #expect(throws: KubernetesAPIError.self) {
      _ = try await client.listPage(.virtualServices(), limit: 10, continueToken: nil)
    }
    _ = try await client.listPage(.virtualServices(), limit: 10, continueToken: nil)
    #expect(
      server.requests.map(\.authorization) == ["Bearer tok-1", "Bearer tok-1", "Bearer tok-2"])
    try await client.shutdown()
    try await server.close()
  }
}
