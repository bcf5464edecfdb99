/// A kubeconfig file (`~/.kube/config`, `kubectl config view --raw`), as far as the bridge reads it.
///
/// Keys are spelled as kubectl writes them (`current-context`, `certificate-authority-data`, …).
/// Fields the bridge cannot honour (`auth-provider`, basic auth) are still decoded so that
/// `KubernetesConfig` can name them in its error instead of silently connecting unauthenticated.
public struct KubeconfigFile: Decodable, Sendable, Hashable {
  public var currentContext: String?
  public var clusters: [NamedCluster]
  public var contexts: [NamedContext]
  public var users: [NamedUser]

  enum CodingKeys: String, CodingKey {
    case currentContext = "current-context"
    case clusters, contexts, users
  }

  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    currentContext = try c.decodeIfPresent(String.self, forKey: .currentContext)
    clusters = try c.decodeIfPresent([NamedCluster].self, forKey: .clusters) ?? []
    contexts = try c.decodeIfPresent([NamedContext].self, forKey: .contexts) ?? []
    users = try c.decodeIfPresent([NamedUser].self, forKey: .users) ?? []
  }

  public struct NamedCluster: Decodable, Sendable, Hashable {
    public var name: String
    public var cluster: Cluster
  }

  public struct Cluster: Decodable, Sendable, Hashable {
    public var server: String?
    public var certificateAuthority: String?
    public var certificateAuthorityData: String?
    public var insecureSkipTLSVerify: Bool?

    enum CodingKeys: String, CodingKey {
      case server
      case certificateAuthority = "certificate-authority"
      case certificateAuthorityData = "certificate-authority-data"
      case insecureSkipTLSVerify = "insecure-skip-tls-verify"
    }
  }

  public struct NamedContext: Decodable, Sendable, Hashable {
    public var name: String
    public var context: Context
  }

  public struct Context: Decodable, Sendable, Hashable {
    public var cluster: String?
    public var user: String?
    public var namespace: String?
  }

  public struct NamedUser: Decodable, Sendable, Hashable {
    public var name: String
    public var user: User
  }

  public struct User: Decodable, Sendable, Hashable {
    public var token: String?
    public var tokenFile: String?
    public var clientCertificate: String?
    public var clientCertificateData: String?
    public var clientKey: String?
    public var clientKeyData: String?
    public var username: String?
    /// A credential plugin that prints the token (`ExecCredentialPlugin`).
    public var exec: Exec?
    public var hasExec: Bool { exec != nil }
    /// Present for the legacy auth-provider plugins (gcp, azure, oidc); not supported.
    public var hasAuthProvider: Bool

    enum CodingKeys: String, CodingKey {
      case token, tokenFile, username, exec
      case clientCertificate = "client-certificate"
      case clientCertificateData = "client-certificate-data"
      case clientKey = "client-key"
      case clientKeyData = "client-key-data"
      case authProvider = "auth-provider"
    }

    public init(from decoder: any Decoder) throws {
      let c = try decoder.container(keyedBy: CodingKeys.self)
      token = try c.decodeIfPresent(String.self, forKey: .token)
      tokenFile = try c.decodeIfPresent(String.self, forKey: .tokenFile)
      clientCertificate = try c.decodeIfPresent(String.self, forKey: .clientCertificate)
      clientCertificateData = try c.decodeIfPresent(String.self, forKey: .clientCertificateData)
      clientKey = try c.decodeIfPresent(String.self, forKey: .clientKey)
      clientKeyData = try c.decodeIfPresent(String.self, forKey: .clientKeyData)
      username = try c.decodeIfPresent(String.self, forKey: .username)
      exec = try c.decodeIfPresent(Exec.self, forKey: .exec)
      hasAuthProvider = c.contains(.authProvider)
    }
  }

  /// `users[].user.exec`, as kubectl reads it.
  public struct Exec: Decodable, Sendable, Hashable {
    public var command: String
    public var args: [String]?
    public var env: [ExecCredentialPlugin.EnvironmentVariable]?
    public var apiVersion: String?
    public var installHint: String?
    public var interactiveMode: String?
  }
}
