import Config
import Foundation
import Testing

@testable import CRDBridge

/// Kubeconfigs are read through `ConfigDocument`, which reads JSON until the YAML reader lands; the
/// fixtures are kubeconfigs in their JSON form (`kubectl config view --raw -o json`).
@Suite struct KubernetesConfigTests {
  func serviceAccount(token: String = "sa-token\n", ca: [UInt8]? = nil, namespace: String? = "l7mp")
    throws -> String
  {
    let dir = try KubernetesFixtures.temporaryDirectory()
    _ = FileManager.default.createFile(atPath: dir + "/token", contents: Data(token.utf8))
    _ = FileManager.default.createFile(
      atPath: dir + "/ca.crt", contents: Data(ca ?? KubernetesFixtures.bytes("test-ca.crt")))
    if let namespace {
      _ = FileManager.default.createFile(atPath: dir + "/namespace", contents: Data(namespace.utf8))
    }
    return dir
  }

  @Test func inClusterReadsTheServiceAccount() throws {
    let dir = try serviceAccount()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let config = try KubernetesConfig.inCluster(
      environment: ["KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"],
      serviceAccountDirectory: dir)
    #expect(config.server == "https://10.96.0.1:443")
    #expect(config.credentials == .bearerTokenFile(path: dir + "/token"))
    #expect(
      config.trust
        == .certificateAuthority(
          .init(name: dir + "/ca.crt", bytes: KubernetesFixtures.bytes("test-ca.crt"))))
    #expect(config.namespace == "l7mp")
    #expect(try config.tlsConfiguration() != nil)
  }

  @Test func inClusterBracketsAnIPv6HostAndDefaultsTheNamespace() throws {
    let dir = try serviceAccount(namespace: nil)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let config = try KubernetesConfig.inCluster(
      environment: ["KUBERNETES_SERVICE_HOST": "fd00:10:96::1", "KUBERNETES_SERVICE_PORT": "443"],
      serviceAccountDirectory: dir)
    #expect(config.server == "https://[fd00:10:96::1]:443")
    #expect(config.namespace == "default")
  }

  @Test func inClusterOutsideAPodSaysWhatToDo() {
    #expect {
      try KubernetesConfig.inCluster(environment: [:], serviceAccountDirectory: "/nonexistent")
    } throws: { error in
      let s = "\(error)"
      return s.contains("KUBERNETES_SERVICE_HOST") && s.contains("--kubeconfig")
    }
  }

  @Test func inClusterNamesTheMissingOrBadFile() throws {
    let env = ["KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"]
    #expect {
      try KubernetesConfig.inCluster(environment: env, serviceAccountDirectory: "/nonexistent/sa")
    } throws: {
      "\($0)" == "/nonexistent/sa/token: error: cannot read the service-account token: no such file"
    }

    let empty = try serviceAccount(token: "\n")
    defer { try? FileManager.default.removeItem(atPath: empty) }
    #expect {
      try KubernetesConfig.inCluster(environment: env, serviceAccountDirectory: empty)
    } throws: { "\($0)" == "\(empty)/token: error: the service-account token is empty" }

    let badCA = try serviceAccount(ca: Array("not a certificate".utf8))
    defer { try? FileManager.default.removeItem(atPath: badCA) }
    #expect {
      try KubernetesConfig.inCluster(environment: env, serviceAccountDirectory: badCA)
    } throws: { "\($0)".hasPrefix("\(badCA)/ca.crt: error: ") && "\($0)".contains("PEM") }

    #expect {
      try KubernetesConfig.inCluster(
        environment: ["KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "https"],
        serviceAccountDirectory: badCA)
    } throws: { "\($0)".contains("KUBERNETES_SERVICE_PORT is 'https'") }
  }

  @Test func kubeconfigCurrentContextWithTokenAndCAData() throws {
    let path = KubernetesFixtures.path("kubeconfig-token.json")
    let config = try KubernetesConfig.kubeconfig(path: path)
    #expect(config.server == "https://k8s.example.com:6443")
    guard case .bearerToken(let token) = config.credentials else {
      Issue.record("expected a bearer token, got \(config.credentials)")
      return
    }
    #expect(token.hasPrefix("eyJhbGciOiJSUzI1NiIs"))
    guard case .certificateAuthority(let ca) = config.trust else {
      Issue.record("expected a CA, got \(config.trust)")
      return
    }
    #expect(ca.bytes == KubernetesFixtures.bytes("test-ca.crt"))
    #expect(config.namespace == "l7mp")
    #expect(config.origin == path)
  }

  @Test func kubeconfigChosenContextRefusesBasicAuth() {
    let path = KubernetesFixtures.path("kubeconfig-token.json")
    #expect {
      try KubernetesConfig.kubeconfig(path: path, context: "dev")
    } throws: {
      "\($0)".hasPrefix("\(path): error: user 'dev-admin' uses basic authentication")
    }
    #expect {
      try KubernetesConfig.kubeconfig(path: path, context: "staging")
    } throws: {
      "\($0)" == "\(path): error: context 'staging' is not in contexts (dev, prod)"
    }
  }

  @Test func kubeconfigRelativeFilesAreReadBesideIt() throws {
    let config = try KubernetesConfig.kubeconfig(
      path: KubernetesFixtures.path("kubeconfig-files.json"))
    let ca = KubernetesFixtures.path("test-ca.crt")
    #expect(config.server == "https://127.0.0.1:39117")
    #expect(
      config.trust
        == .certificateAuthority(.init(name: ca, bytes: KubernetesFixtures.bytes("test-ca.crt"))))
    guard case .clientCertificate(let cert, let key) = config.credentials else {
      Issue.record("expected a client certificate, got \(config.credentials)")
      return
    }
    #expect(cert.name == KubernetesFixtures.path("test-client.crt"))
    #expect(key.name == KubernetesFixtures.path("test-client.key"))
    let tls = try #require(try config.tlsConfiguration())
    #expect(tls.certificateChain.count == 1)
    #expect(tls.privateKey != nil)
  }

  @Test func kubeconfigExecPluginIsRead() throws {
    let config = try KubernetesConfig.kubeconfig(
      path: KubernetesFixtures.path("kubeconfig-exec.json"))
    #expect(
      config.credentials
        == .exec(
          ExecCredentialPlugin(
            command: "gke-gcloud-auth-plugin", arguments: [], environment: [],
            apiVersion: "client.authentication.k8s.io/v1beta1", installHint: nil,
            origin: "user 'gke' in the kubeconfig")))
  }

  /// Writes `json` as a kubeconfig and returns the error reading it gives.
  func error(reading json: String) throws -> String {
    let dir = try KubernetesFixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let path = dir + "/config"
    _ = FileManager.default.createFile(atPath: path, contents: Data(json.utf8))
    do {
      _ = try KubernetesConfig.kubeconfig(path: path)
      return "no error"
    } catch {
      // `FILE: error: …`, or `FILE:LINE:COL: error: …` when the reader knows where.
      let s = "\(error)"
      #expect(s.hasPrefix(path + ":"), "the error names the file: \(s)")
      guard let range = s.range(of: ": error: ") else { return s }
      return String(s[range.upperBound...])
    }
  }

  @Test func kubeconfigErrorsSayWhatIsMissing() throws {
    let cluster = #"{"name": "c", "cluster": {"server": "https://10.0.0.1:6443"}}"#
    let context = #"{"name": "x", "context": {"cluster": "c", "user": "u"}}"#
    #expect(
      try error(reading: #"{"contexts": [\#(context)], "clusters": [\#(cluster)]}"#)
        == "no current-context, and no context was chosen (contexts: x); run `kubectl config use-context NAME`"
    )
    #expect(
      try error(reading: #"{"current-context": "x", "contexts": [\#(context)]}"#)
        == "context 'x' names cluster 'c', which is not in clusters (none defined)")
    #expect(
      try error(
        reading:
          #"{"current-context": "x", "contexts": [\#(context)], "clusters": [{"name": "c", "cluster": {}}]}"#
      ) == "cluster 'c' has no server")
    #expect(
      try error(
        reading:
          #"{"current-context": "x", "contexts": [\#(context)], "clusters": [{"name": "c", "cluster": {"server": "10.0.0.1:6443"}}]}"#
      ).hasPrefix("cluster 'c': server '10.0.0.1:6443' is not an http(s) URL"))
    #expect(
      try error(
        reading: #"{"current-context": "x", "contexts": [\#(context)], "clusters": [\#(cluster)]}"#)
        == "context 'x' names user 'u', which is not in users (none defined)")
    #expect(
      try error(
        reading:
          #"{"current-context": "x", "contexts": [\#(context)], "clusters": [\#(cluster)], "users": [{"name": "u", "user": {"client-key-data": "AAAA"}}]}"#
      ) == "user 'u' has a client key but no client certificate; both are needed")
    #expect(
      try error(
        reading:
          #"{"current-context": "x", "contexts": [\#(context)], "clusters": [{"name": "c", "cluster": {"server": "https://a", "certificate-authority-data": "%%%"}}]}"#
      ) == "cluster 'c': certificate-authority-data is not valid base64")
    #expect(
      try error(
        reading:
          #"{"current-context": "x", "contexts": [\#(context)], "clusters": [{"name": "c", "cluster": {"server": "https://a", "certificate-authority": "missing.crt"}}]}"#
      ).contains("missing.crt"))
    #expect(try error(reading: #"{"current-context": 7}"#).contains("current-context"))
    #expect(try error(reading: "{not json").count > 0)
  }

  @Test func missingKubeconfigIsNamed() {
    #expect {
      try KubernetesConfig.kubeconfig(path: "/nonexistent/kube/config")
    } throws: {
      "\($0)" == "/nonexistent/kube/config: error: cannot read the kubeconfig: no such file"
    }
  }
}
