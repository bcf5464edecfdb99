import Config
import Hummingbird
import Logging
import NIOCore
import RuleLang

/// A control API request that is answered with an error:
/// `{"error": {"status": N, "message": "…"}}`, plus `"diagnostics": […]` for rule source with
/// errors.
struct ControlAPIError: Error, Sendable {
  var status: HTTPResponse.Status
  var message: String
  /// Raw JSON array of the rule checker's diagnostics (`DiagnosticJSON`), when there are any.
  var diagnosticsJSON: String?
  /// `WWW-Authenticate` on 401, `Allow` on 405.
  var headers: HTTPFields = [:]

  init(
    _ status: HTTPResponse.Status, _ message: String, diagnosticsJSON: String? = nil,
    headers: HTTPFields = [:]
  ) {
    self.status = status
    self.message = message
    self.diagnosticsJSON = diagnosticsJSON
    self.headers = headers
  }

  init(_ error: ControlError) {
    switch error {
    case .invalidRules(let source, let diagnostics):
      let json = DiagnosticJSON.render([(source, diagnostics)])
      self.init(
        .init(code: error.status), error.message,
        diagnosticsJSON: json.trimmingCharacters(in: .whitespacesAndNewlines))
    default:
      self.init(.init(code: error.status), error.message)
    }
  }

  var body: String {
    var fields = ["\"status\":\(status.code)", "\"message\":\(DiagnosticJSON.quote(message))"]
    if let diagnosticsJSON { fields.append("\"diagnostics\":\(diagnosticsJSON)") }
    return "{\"error\":{" + fields.joined(separator: ",") + "}}\n"
  }

  var response: Response {
    var headers = self.headers
    headers[.contentType] = "application/json; charset=utf-8"
    return Response(
      status: status, headers: headers,
      body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
  }
}

/// Turns every error a handler (or the router, or another middleware) throws into the JSON error
/// shape, so that no answer of the API is HTML or empty.
struct ControlAPIErrorMiddleware<Context: RequestContext>: RouterMiddleware {
  let maxBodyBytes: Int
  let logger: Logger

  func handle(
    _ request: Request, context: Context, next: (Request, Context) async throws -> Response
  ) async throws -> Response {
    do {
      return try await next(request, context)
    } catch {
      let apiError = translate(error, request: request)
      if apiError.status == .internalServerError {
        logger.error(
          "control API: \(request.method) \(request.uri.path) failed: \(apiError.message)")
      }
      return apiError.response
    }
  }

  func translate(_ error: any Error, request: Request) -> ControlAPIError {
    switch error {
    case let e as ControlAPIError:
      return e
    case let e as ControlError:
      return ControlAPIError(e)
    case let e as ConfigError:
      return ControlAPIError(.badRequest, e.description)
    case is NIOTooManyBytesError:
      return ControlAPIError.bodyTooLarge(limit: maxBodyBytes)
    case let e as HTTPError where e.status == .notFound:
      return ControlAPIError(
        .notFound,
        "no such endpoint: \(request.method) \(request.uri.path) (the API is under /api/v1; see docs/api.md)"
      )
    case let e as HTTPError:
      return ControlAPIError(e.status, e.body ?? e.status.reasonPhrase)
    default:
      return ControlAPIError(.internalServerError, "internal error: \(error)")
    }
  }
}

extension ControlAPIError {
  static func bodyTooLarge(limit: Int) -> ControlAPIError {
    ControlAPIError(
      .contentTooLarge,
      "request body is larger than the control API's limit of \(limit) bytes")
  }

  static func methodNotAllowed(
    _ method: HTTPRequest.Method, path: String, allowed: [HTTPRequest.Method]
  )
    -> ControlAPIError
  {
    let list = allowed.map(\.rawValue).joined(separator: ", ")
    var headers = HTTPFields()
    headers[.allow] = list
    return ControlAPIError(
      .methodNotAllowed, "\(method.rawValue) is not allowed on \(path); allowed: \(list)",
      headers: headers)
  }
}
