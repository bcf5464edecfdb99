import Foundation
import Hummingbird

/// Who may use the control API.
///
/// With a token, every request except the probes (`/healthz`, `/readyz`, which Kubernetes calls
/// without credentials) needs `Authorization: Bearer TOKEN`. Without one, anyone who can connect
/// may read, but writes are accepted only when the API is bound to loopback: an API reachable from
/// the network with no token must not let the network reconfigure the proxy.
struct ControlAPIAuthMiddleware<Context: RequestContext>: RouterMiddleware {
  let token: String?
  let boundToLoopback: Bool
  let address: String

  static var unauthenticatedPaths: Set<String> { ["/healthz", "/readyz"] }

  func handle(
    _ request: Request, context: Context, next: (Request, Context) async throws -> Response
  ) async throws -> Response {
    if Self.unauthenticatedPaths.contains(request.uri.path) {
      return try await next(request, context)
    }
    if let token {
      guard let presented = Self.bearerToken(request.headers[.authorization]) else {
        throw Self.unauthorized("this control API needs 'Authorization: Bearer TOKEN'")
      }
      guard Self.constantTimeEqual(Array(presented.utf8), Array(token.utf8)) else {
        throw Self.unauthorized("the bearer token is not the control API's token")
      }
    } else if Self.isWrite(request.method) && !boundToLoopback {
      throw ControlAPIError(
        .forbidden,
        "writes are refused: the control API is bound to \(address), which is not loopback, "
          + "and has no token; start l7mp with --api-token-file FILE, or bind the API to "
          + "127.0.0.1 (--api-bind)")
    }
    return try await next(request, context)
  }

  static func isWrite(_ method: HTTPRequest.Method) -> Bool {
    method != .get && method != .head && method != .options
  }

  /// The token of `Bearer TOKEN` (scheme case-insensitive, RFC 7235), or nil.
  static func bearerToken(_ header: String?) -> String? {
    guard let header else { return nil }
    let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
    guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
    let token = parts[1].trimmingCharacters(in: .whitespaces)
    return token.isEmpty ? nil : token
  }

  /// Compares without returning early, so that the time taken does not tell how much matched.
  static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    var difference = UInt8(truncatingIfNeeded: a.count ^ b.count)
    for i in 0..<max(a.count, b.count) {
      let x = i < a.count ? a[i] : 0
      let y = i < b.count ? b[i] : 0
      difference |= x ^ y
    }
    return difference == 0 && a.count == b.count
  }

  static func unauthorized(_ message: String) -> ControlAPIError {
    var headers = HTTPFields()
    headers[.wwwAuthenticate] = "Bearer realm=\"l7mp\""
    return ControlAPIError(.unauthorized, message, headers: headers)
  }
}
