import Config
import Foundation
import NIOSSL

/// Where the Kubernetes API server is and how to authenticate to it: from the pod's service account
/// (`inCluster`) or from a kubeconfig file (`kubeconfig`). Every error is a `ConfigError` naming the
/// file (or environment variable) and what is missing.
public struct KubernetesConfig: Sendable, Hashable {
  /// Base URL, `https://HOST:PORT` (possibly with a path prefix), without a trailing slash.
  public var server: String
  public var credentials: Credentials
  public var trust: ServerTrust
  /// The namespace of the context or of the service account; "default" when neither names one.
  public var namespace: String
  /// Where this came from, for logs: "in-cluster service account" or the kubeconfig path.
  public var origin: String

  public enum Credentials: Sendable, Hashable {
    case none
    case bearerToken(String)
    /// Read again for every request: projected service-account tokens are rotated by the kubelet.
    case bearerTokenFile(path: String)
    case clientCertificate(certificate: PEMSource, key: PEMSource)
    /// A token printed by a credential plugin, run again when it expires (kubeconfig `exec`).
    case exec(ExecCredentialPlugin)
  }

  public enum ServerTrust: Sendable, Hashable {
    /// The system's root certificates (a server with a publicly signed certificate, or plain http).
    case systemRoots
    case certificateAuthority(PEMSource)
    /// `insecure-skip-tls-verify: true`: the server's certificate is not checked.
    case insecureSkipVerify
  }

  /// PEM bytes and a name for them in messages (a path, or "FILE: cluster 'x' certificate-authority-data").
  public struct PEMSource: Sendable, Hashable {
    public var name: String
    public var bytes: [UInt8]
    public init(name: String, bytes: [UInt8]) {
      self.name = name
      self.bytes = bytes
    }
  }

  public init(
    server: String, credentials: Credentials = .none, trust: ServerTrust = .systemRoots,
    namespace: String = "default", origin: String = "explicit configuration"
  ) {
    self.server = server.hasSuffix("/") ? String(server.dropLast()) : server
    self.credentials = credentials
    self.trust = trust
    self.namespace = namespace
    self.origin = origin
  }

  public static let serviceAccountDirectory = "/var/run/secrets/kubernetes.io/serviceaccount"

  /// The pod's own service account: `KUBERNETES_SERVICE_HOST`/`_PORT`, and `token`, `ca.crt`,
  /// `namespace` in `serviceAccountDirectory`.
  public static func inCluster(
    environment: [String: String] = ProcessInfo.processInfo.environment,
    serviceAccountDirectory directory: String = serviceAccountDirectory
  ) throws(ConfigError) -> KubernetesConfig {
    guard let host = environment["KUBERNETES_SERVICE_HOST"], !host.isEmpty,
      let port = environment["KUBERNETES_SERVICE_PORT"], !port.isEmpty
    else {
      throw ConfigError(
        input: "environment", line: nil, column: nil,
        message:
          "KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set: not running in a Kubernetes pod; use --kubeconfig FILE"
      )
    }
    guard let portNumber = Int(port), (1...65535).contains(portNumber) else {
      throw ConfigError(
        input: "environment", line: nil, column: nil,
        message: "KUBERNETES_SERVICE_PORT is '\(port)', expected a port number 1-65535")
    }
    let tokenPath = directory + "/token"
    let token = try readFile(tokenPath, what: "service-account token")
    if String(decoding: token, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
      .isEmpty
    {
      throw ConfigError(
        input: tokenPath, line: nil, column: nil, message: "the service-account token is empty")
    }
    let caPath = directory + "/ca.crt"
    let ca = PEMSource(name: caPath, bytes: try readFile(caPath, what: "cluster CA certificate"))
    var namespace = "default"
    if let bytes = FileManager.default.contents(atPath: directory + "/namespace") {
      let s = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
      if !s.isEmpty { namespace = s }
    }
    // An IPv6 service address needs brackets in a URL.
    let hostPart = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
    let config = KubernetesConfig(
      server: "https://\(hostPart):\(portNumber)",
      credentials: .bearerTokenFile(path: tokenPath),
      trust: .certificateAuthority(ca), namespace: namespace,
      origin: "in-cluster service account")
    _ = try config.tlsConfiguration()
    return config
  }

  /// A kubeconfig file: `context` (default: its `current-context`) → cluster server, CA and user
  /// credentials. Relative file paths in it are relative to the file's folder, as kubectl reads them.
  public static func kubeconfig(path: String, context: String? = nil) throws(ConfigError)
    -> KubernetesConfig
  {
    let bytes = try readFile(path, what: "kubeconfig")
    let file = try ConfigDocument.decode(KubeconfigFile.self, from: bytes, name: path)
    let folder = (path as NSString).deletingLastPathComponent
    func fail(_ message: String) -> ConfigError {
      ConfigError(input: path, line: nil, column: nil, message: message)
    }
    func resolve(_ p: String) -> String {
      p.hasPrefix("/") || folder.isEmpty ? p : folder + "/" + p
    }
    func names<T>(_ list: [T], _ name: (T) -> String) -> String {
      list.isEmpty ? "none defined" : list.map(name).joined(separator: ", ")
    }

    guard let contextName = context ?? file.currentContext, !contextName.isEmpty else {
      throw fail(
        "no current-context, and no context was chosen (contexts: \(names(file.contexts, \.name))); run `kubectl config use-context NAME`"
      )
    }
    guard let ctx = file.contexts.first(where: { $0.name == contextName })?.context else {
      throw fail(
        "context '\(contextName)' is not in contexts (\(names(file.contexts, \.name)))")
    }
    guard let clusterName = ctx.cluster, !clusterName.isEmpty else {
      throw fail("context '\(contextName)' names no cluster")
    }
    guard let cluster = file.clusters.first(where: { $0.name == clusterName })?.cluster else {
      throw fail(
        "context '\(contextName)' names cluster '\(clusterName)', which is not in clusters (\(names(file.clusters, \.name)))"
      )
    }
    guard let server = cluster.server, !server.isEmpty else {
      throw fail("cluster '\(clusterName)' has no server")
    }
    guard let url = URL(string: server), let scheme = url.scheme?.lowercased(),
      scheme == "https" || scheme == "http", url.host != nil
    else {
      throw fail(
        "cluster '\(clusterName)': server '\(server)' is not an http(s) URL such as https://10.0.0.1:6443"
      )
    }

    func pem(
      data: String?, dataKey: String, file filePath: String?, fileKey: String, owner: String
    ) throws(ConfigError)
      -> PEMSource?
    {
      if let data {
        let compact = data.filter { !$0.isWhitespace }
        guard let decoded = Data(base64Encoded: compact) else {
          throw fail("\(owner): \(dataKey) is not valid base64")
        }
        return PEMSource(name: "\(path): \(owner) \(dataKey)", bytes: [UInt8](decoded))
      }
      if let filePath {
        let resolved = resolve(filePath)
        guard let bytes = FileManager.default.contents(atPath: resolved) else {
          throw fail("\(owner): cannot read \(fileKey) file \(resolved)")
        }
        return PEMSource(name: resolved, bytes: [UInt8](bytes))
      }
      return nil
    }

    let trust: ServerTrust
    let ca = try pem(
      data: cluster.certificateAuthorityData, dataKey: "certificate-authority-data",
      file: cluster.certificateAuthority, fileKey: "certificate-authority",
      owner: "cluster '\(clusterName)'")
    if cluster.insecureSkipTLSVerify == true {
      if ca != nil {
        throw fail(
          "cluster '\(clusterName)' has both insecure-skip-tls-verify and a certificate authority; keep one"
        )
      }
      trust = .insecureSkipVerify
    } else if let ca {
      trust = .certificateAuthority(ca)
    } else {
      trust = .systemRoots
    }

    var credentials = Credentials.none
    if let userName = ctx.user, !userName.isEmpty {
      guard let user = file.users.first(where: { $0.name == userName })?.user else {
        throw fail(
          "context '\(contextName)' names user '\(userName)', which is not in users (\(names(file.users, \.name)))"
        )
      }
      let owner = "user '\(userName)'"
      if user.hasAuthProvider {
        throw fail(
          "\(owner) authenticates with an auth-provider plugin (removed from kubectl in 1.26), which l7mp does not run; use the provider's exec plugin, or give it a token, tokenFile or client certificate"
        )
      }
      let cert = try pem(
        data: user.clientCertificateData, dataKey: "client-certificate-data",
        file: user.clientCertificate, fileKey: "client-certificate", owner: owner)
      let key = try pem(
        data: user.clientKeyData, dataKey: "client-key-data", file: user.clientKey,
        fileKey: "client-key", owner: owner)
      // A plugin's token is the credential; a token or certificate beside it is not used.
      if let exec = user.exec {
        credentials = .exec(try execPlugin(exec, owner: owner, resolve: resolve, fail: fail))
      } else if let token = user.token, !token.isEmpty {
        credentials = .bearerToken(token)
      } else if let tokenFile = user.tokenFile, !tokenFile.isEmpty {
        let resolved = resolve(tokenFile)
        if !FileManager.default.isReadableFile(atPath: resolved) {
          throw fail("\(owner): cannot read tokenFile \(resolved)")
        }
        credentials = .bearerTokenFile(path: resolved)
      } else if let cert, let key {
        credentials = .clientCertificate(certificate: cert, key: key)
      } else if cert != nil || key != nil {
        throw fail(
          "\(owner) has a client \(cert == nil ? "key" : "certificate") but no client \(cert == nil ? "certificate" : "key"); both are needed"
        )
      } else if user.username != nil {
        throw fail(
          "\(owner) uses basic authentication (username/password), which Kubernetes no longer supports; give it a token or client certificate"
        )
      }
    }

    let config = KubernetesConfig(
      server: server, credentials: credentials, trust: trust,
      namespace: ctx.namespace.flatMap { $0.isEmpty ? nil : $0 } ?? "default", origin: path)
    _ = try config.tlsConfiguration()
    return config
  }

  /// A kubeconfig `exec` entry checked: a command, a known apiVersion, not interactive-only. A
  /// command with a `/` in it is relative to the kubeconfig's folder, as kubectl reads it.
  static func execPlugin(
    _ exec: KubeconfigFile.Exec, owner: String, resolve: (String) -> String,
    fail: (String) -> ConfigError
  ) throws(ConfigError) -> ExecCredentialPlugin {
    guard !exec.command.isEmpty else { throw fail("\(owner): exec has an empty command") }
    guard let apiVersion = exec.apiVersion,
      ExecCredentialPlugin.apiVersions.contains(apiVersion)
    else {
      throw fail(
        "\(owner): exec apiVersion '\(exec.apiVersion ?? "")' is not supported; expected one of \(ExecCredentialPlugin.apiVersions.joined(separator: ", "))"
      )
    }
    if exec.interactiveMode == "Always" {
      throw fail(
        "\(owner): exec plugin '\(exec.command)' needs a terminal (interactiveMode: Always), and the bridge runs unattended"
      )
    }
    return ExecCredentialPlugin(
      command: exec.command.contains("/") ? resolve(exec.command) : exec.command,
      arguments: exec.args ?? [], environment: exec.env ?? [], apiVersion: apiVersion,
      installHint: exec.installHint, origin: "\(owner) in the kubeconfig")
  }

  /// The TLS settings for an https server (nil for http), with PEM errors naming their source.
  public func tlsConfiguration() throws(ConfigError) -> TLSConfiguration? {
    guard server.lowercased().hasPrefix("https:") else { return nil }
    var tls = TLSConfiguration.makeClientConfiguration()
    switch trust {
    case .systemRoots: break
    case .insecureSkipVerify: tls.certificateVerification = .none
    case .certificateAuthority(let ca):
      let certs = try Self.certificates(ca)
      tls.trustRoots = .certificates(certs)
    }
    if case .clientCertificate(let cert, let key) = credentials {
      tls.certificateChain = try Self.certificates(cert).map { .certificate($0) }
      do {
        tls.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: key.bytes, format: .pem))
      } catch {
        throw ConfigError(
          input: key.name, line: nil, column: nil,
          message: "not a PEM private key (\(error))")
      }
    }
    return tls
  }

  static func certificates(_ source: PEMSource) throws(ConfigError) -> [NIOSSLCertificate] {
    let certs: [NIOSSLCertificate]
    do {
      certs = try NIOSSLCertificate.fromPEMBytes(source.bytes)
    } catch {
      throw ConfigError(
        input: source.name, line: nil, column: nil,
        message: "not a PEM certificate (\(error))")
    }
    if certs.isEmpty {
      throw ConfigError(
        input: source.name, line: nil, column: nil,
        message: "holds no PEM certificate (expected -----BEGIN CERTIFICATE-----)")
    }
    return certs
  }

  static func readFile(_ path: String, what: String) throws(ConfigError) -> [UInt8] {
    guard let data = FileManager.default.contents(atPath: path) else {
      let exists = FileManager.default.fileExists(atPath: path)
      throw ConfigError(
        input: path, line: nil, column: nil,
        message: "cannot read the \(what): \(exists ? "permission denied" : "no such file")")
    }
    return [UInt8](data)
  }
}
