import Config
import Foundation
import NIOCore

/// How `l7mp run` serves the control API: where, with which token, and how large a body may be.
public struct ControlAPIOptions: Sendable, Hashable {
  /// The address to bind: loopback unless `--api-bind` says otherwise.
  public var address: String
  /// TCP port; 0 asks the OS for a free one (the bound port is passed to `onRunning`).
  public var port: Int
  /// The bearer token every request but `/healthz` and `/readyz` must carry; nil for none.
  public var token: String?
  /// Request bodies larger than this are refused with 413.
  public var maxBodyBytes: Int
  /// Connections idle this long are closed, so that slow or stuck clients do not hold sockets.
  public var idleTimeoutSeconds: Int64

  public static let defaultMaxBodyBytes = 1 << 20
  public static let defaultIdleTimeoutSeconds: Int64 = 60

  public init(
    address: String = "127.0.0.1", port: Int = AdminConfig.defaultPort, token: String? = nil,
    maxBodyBytes: Int = ControlAPIOptions.defaultMaxBodyBytes,
    idleTimeoutSeconds: Int64 = ControlAPIOptions.defaultIdleTimeoutSeconds
  ) {
    self.address = address
    self.port = port
    self.token = token
    self.maxBodyBytes = maxBodyBytes
    self.idleTimeoutSeconds = idleTimeoutSeconds
  }

  /// What `l7mp run` serves: the configuration's `admin:` address and port, `--api-bind` over
  /// the address, and the token read from `--api-token-file`.
  public static func forRun(admin: AdminConfig, bind: String? = nil, tokenFile: String? = nil)
    throws(ControlAPIOptionsError) -> ControlAPIOptions
  {
    ControlAPIOptions(
      address: bind ?? admin.address, port: admin.port,
      token: try tokenFile.map { path throws(ControlAPIOptionsError) in try token(fromFile: path) })
  }

  /// Whether only this host can reach the API: a 127.0.0.0/8 or ::1 address, or `localhost`.
  /// Without a token, writes are accepted only then.
  public var isLoopback: Bool { Self.isLoopback(address) }

  public static func isLoopback(_ address: String) -> Bool {
    var host = address
    if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
    if host.lowercased() == "localhost" { return true }
    guard let socketAddress = try? SocketAddress(ipAddress: host, port: 0) else { return false }
    switch socketAddress {
    case .v4(let a):
      // sin_addr is in network byte order: the first octet is the lowest byte in memory.
      return withUnsafeBytes(of: a.address.sin_addr) { $0[0] } == 127
    case .v6(let a):
      let bytes = withUnsafeBytes(of: a.address.sin6_addr) { Array($0) }
      let loopback: [UInt8] = Array(repeating: 0, count: 15) + [1]
      let v4Mapped: [UInt8] = Array(repeating: 0, count: 10) + [0xFF, 0xFF]
      return bytes == loopback || (Array(bytes[0..<12]) == v4Mapped && bytes[12] == 127)
    case .unixDomainSocket:
      return false
    }
  }

  /// Reads the token from `path` (`--api-token-file`): the file's text without surrounding
  /// whitespace, which must not be empty or contain whitespace inside.
  public static func token(fromFile path: String) throws(ControlAPIOptionsError) -> String {
    guard let data = FileManager.default.contents(atPath: path) else {
      throw ControlAPIOptionsError(message: "\(path): cannot read the API token file")
    }
    guard let text = String(data: data, encoding: .utf8) else {
      throw ControlAPIOptionsError(message: "\(path): the API token file is not UTF-8 text")
    }
    let token = text.trimmingCharacters(in: .whitespacesAndNewlines)
    if token.isEmpty {
      throw ControlAPIOptionsError(
        message: "\(path): the API token file is empty; put the token (one line) in it")
    }
    if token.contains(where: { $0.isWhitespace }) {
      throw ControlAPIOptionsError(
        message: "\(path): the API token contains whitespace; a bearer token is one word")
    }
    return token
  }
}

/// Control API options that cannot be used (an unreadable token file…).
public struct ControlAPIOptionsError: Error, Sendable, Hashable, CustomStringConvertible {
  public var message: String
  public var description: String { message }
}
