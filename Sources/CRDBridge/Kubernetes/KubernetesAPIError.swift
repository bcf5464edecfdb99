/// Why a request to the Kubernetes API did not give what the watcher needed. The watcher logs these
/// and retries; `isGone` errors make it list again.
public enum KubernetesAPIError: Error, Sendable, Hashable, CustomStringConvertible {
  /// A non-2xx response; `status` is the server's Status object when it sent one.
  case http(code: Int, status: APIStatus?)
  /// An ERROR event in a watch stream.
  case watchError(APIStatus)
  /// A response or event that is not what the API sends.
  case malformed(String)
  /// The connection failed or dropped (refused, reset, closed mid-stream, read timeout).
  case transport(String)
  /// The credentials could not be read (a rotated token file that vanished).
  case credentials(String)

  /// 410 Gone: the resourceVersion (or continue token) is older than the server's history.
  public var isGone: Bool {
    switch self {
    case .http(let code, _): code == 410
    case .watchError(let s): s.code == 410
    default: false
    }
  }

  public var description: String {
    switch self {
    case .http(let code, let status):
      var s = "HTTP \(code)"
      if let status { s += " \(status)" }
      if code == 401 { s += " (the token or client certificate was not accepted)" }
      if code == 403 { s += " (RBAC: the bridge needs get, list and watch on this resource)" }
      if code == 404 { s += " (is the CustomResourceDefinition installed? see deploy/crds/)" }
      return s
    case .watchError(let status): return "watch error: \(status)"
    case .malformed(let what): return "malformed response: \(what)"
    case .transport(let what): return "connection: \(what)"
    case .credentials(let what): return "credentials: \(what)"
    }
  }
}

/// A Kubernetes `Status` object (`kind: Status`), as sent with errors.
public struct APIStatus: Sendable, Hashable, CustomStringConvertible {
  public var code: Int
  /// `Expired`, `Forbidden`, `NotFound`, … ; empty when absent.
  public var reason: String
  public var message: String

  public init(code: Int, reason: String, message: String) {
    self.code = code
    self.reason = reason
    self.message = message
  }

  /// Reads a decoded Status object; nil when it is not one.
  init?(decoded object: Any) {
    guard let dict = object as? [String: Any], dict["kind"] as? String == "Status" else {
      return nil
    }
    code = dict["code"] as? Int ?? 0
    reason = dict["reason"] as? String ?? ""
    message = dict["message"] as? String ?? ""
  }

  public var description: String {
    let text = [reason, message].filter { !$0.isEmpty }.joined(separator: ": ")
    return text.isEmpty ? "(code \(code))" : "\(text) (code \(code))"
  }
}
