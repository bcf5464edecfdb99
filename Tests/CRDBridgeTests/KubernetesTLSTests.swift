import Logging
import NIOSSL
import Testing

@testable import CRDBridge

/// The client's TLS settings against an https replay server whose certificate (for 127.0.0.1) is
/// signed by the test CA in Fixtures/kubernetes, the way an API server's is signed by the cluster CA.
@Suite struct KubernetesTLSTests {
  static func pem(_ name: String) -> KubernetesConfig.PEMSource {
    .init(name: KubernetesFixtures.path(name), bytes: KubernetesFixtures.bytes(name))
  }

  /// The server's TLS: its certificate, and (when `requireClientCertificate`) client certificates
  /// checked against the test CA.
  static func serverTLS(requireClientCertificate: Bool) throws -> TLSConfiguration {
    var tls = TLSConfiguration.makeServerConfiguration(
      certificateChain: try NIOSSLCertificate.fromPEMFile(
        KubernetesFixtures.path("test-server.crt")
      )
      .map { .certificate($0) },
      privateKey: .privateKey(
        try NIOSSLPrivateKey(file: KubernetesFixtures.path("test-server.key"), format: .pem)))
    if requireClientCertificate {
      tls.certificateVerification = .noHostnameVerification
      tls.trustRoots = .certificates(
        try NIOSSLCertificate.fromPEMFile(KubernetesFixtures.path("test-ca.crt")))
    }
    return tls
  }

  /// Lists once through `config`'s client; the server's view of the requests and the first change.
  func listOnce(
    _ credentials: KubernetesConfig.Credentials, trust: KubernetesConfig.ServerTrust,
    requireClientCertificate: Bool
  ) async throws -> (requests: [ReplayAPIServer.Request], listed: Bool, error: String) {
    let server = try await ReplayAPIServer(
      script: [
        .full(status: 200, body: KubernetesFixtures.bytes("virtualservices-list-page2.json"))
      ],
      tls: try Self.serverTLS(requireClientCertificate: requireClientCertificate))
    var logger = Logger(label: "l7mp.bridge.kubernetes.test")
    logger.logLevel = .critical
    let client = try KubernetesClient(
      config: KubernetesConfig(server: server.url, credentials: credentials, trust: trust),
      connectTimeout: .seconds(2), logger: logger)
    var listed = false
    var failure = ""
    do {
      let page = try await client.listPage(.virtualServices(), limit: 10, continueToken: nil)
      listed = page.items.map(\.name) == ["my-udp-service"]
    } catch {
      failure = "\(error)"
    }
    let requests = server.requests
    try await client.shutdown()
    try await server.close()
    return (requests, listed, failure)
  }

  @Test func clientCertificateAndClusterCA() async throws {
    let r = try await listOnce(
      .clientCertificate(
        certificate: Self.pem("test-client.crt"), key: Self.pem("test-client.key")),
      trust: .certificateAuthority(Self.pem("test-ca.crt")), requireClientCertificate: true)
    #expect(r.listed)
    #expect(r.requests.map(\.path) == ["/apis/l7mp.io/v1/virtualservices"])
    #expect(r.requests.first?.authorization == nil)
  }

  @Test func kubeconfigWithClientCertificateTalksTLS() async throws {
    // The kubeconfig fixture points at another port; take its credentials and trust.
    let fromFile = try KubernetesConfig.kubeconfig(
      path: KubernetesFixtures.path("kubeconfig-files.json"))
    let r = try await listOnce(
      fromFile.credentials, trust: fromFile.trust, requireClientCertificate: true)
    #expect(r.listed)
  }

  @Test func serverNotSignedByTheCAIsRefused() async throws {
    let r = try await listOnce(
      .bearerToken("t"), trust: .certificateAuthority(Self.pem("other-ca.crt")),
      requireClientCertificate: false)
    #expect(!r.listed)
    #expect(r.requests.isEmpty, "no request is sent to a server that failed verification")
    #expect(
      r.error.hasPrefix("connection: TLS: the server's certificate is not signed"), "\(r.error)")
  }

  @Test func missingClientCertificateIsRefusedByTheServer() async throws {
    let r = try await listOnce(
      .bearerToken("t"), trust: .certificateAuthority(Self.pem("test-ca.crt")),
      requireClientCertificate: true)
    #expect(!r.listed)
    #expect(r.requests.isEmpty)
  }

  @Test func insecureSkipVerifyAcceptsAnyServer() async throws {
    let r = try await listOnce(
      .bearerToken("t0ken"), trust: .insecureSkipVerify, requireClientCertificate: false)
    #expect(r.listed)
    #expect(r.requests.first?.authorization == "Bearer t0ken")
  }
}
