import Config
import Foundation
import Hummingbird
import RuleLang

enum ControlAPIBody {
  /// Media types a body may have. Absent is fine (the reader tells JSON from YAML by itself).
  static let acceptedMediaTypes: Set<String> = [
    "application/json", "application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml",
  ]

  /// Reads a wrapped object from the request body: size limit, media type, then the document.
  static func object<Object: ControlObject>(
    _ type: Object.Type, from request: Request, maxBytes: Int
  ) async throws -> Object {
    if let type = request.headers[.contentType] {
      let media = type.split(separator: ";", maxSplits: 1)[0]
        .trimmingCharacters(in: .whitespaces).lowercased()
      guard acceptedMediaTypes.contains(media) else {
        throw ControlAPIError(
          .unsupportedMediaType,
          "Content-Type '\(type)' is not accepted; send application/json or application/yaml "
            + "(curl: -H 'Content-Type: application/json')")
      }
    }
    if let length = request.headers[.contentLength].flatMap(Int.init), length > maxBytes {
      throw ControlAPIError.bodyTooLarge(limit: maxBytes)
    }
    let buffer = try await request.body.collect(upTo: maxBytes)
    let bytes = Array(buffer.readableBytesView)
    if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) {
      throw ControlAPIError(.badRequest, "request body: empty; expected {\"\(Object.kind)\": {…}}")
    }
    return try ConfigDocument.decode(WrappedObject<Object>.self, from: bytes, name: "request body")
      .object
  }

  /// JSON for answers: snake_case keys (as every configuration key), sorted for stable output.
  static func json(_ value: some Encodable) throws -> Response {
    let encoder = JSONEncoder()
    encoder.keyEncodingStrategy = .convertToSnakeCase
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    var data = try encoder.encode(value)
    data.append(0x0A)
    return jsonResponse(ByteBuffer(bytes: data), status: .ok)
  }

  static func jsonResponse(_ body: ByteBuffer, status: HTTPResponse.Status) -> Response {
    var headers = HTTPFields()
    headers[.contentType] = "application/json; charset=utf-8"
    return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: body))
  }

  /// The answer to a write: `{"status": N, "message": "…"}`, plus `"warnings": […]` (the rule
  /// checker's, as `l7mp check --format json` prints them) for rulelists.
  static func done(_ status: HTTPResponse.Status, _ message: String, warningsJSON: String? = nil)
    -> Response
  {
    var fields = ["\"status\":\(status.code)", "\"message\":\(DiagnosticJSON.quote(message))"]
    if let warningsJSON { fields.append("\"warnings\":\(warningsJSON)") }
    return jsonResponse(
      ByteBuffer(string: "{" + fields.joined(separator: ",") + "}\n"), status: status)
  }

  /// The rule checker's warnings about `rulelist` as a JSON array. The runtime returns
  /// diagnostics without their source, so positions are computed against the rule text in the
  /// body (or the file it names, read from the proxy's working directory).
  static func warningsJSON(_ warnings: [Diagnostic], of rulelist: RulelistConfig) -> String {
    if warnings.isEmpty { return "[]" }
    let text =
      rulelist.source
      ?? rulelist.file.flatMap { try? String(contentsOfFile: $0, encoding: .utf8) } ?? ""
    let source = SourceFile(name: rulelist.file ?? rulelist.name, text: text)
    return DiagnosticJSON.render([(source, warnings)])
      .trimmingCharacters(in: .whitespacesAndNewlines)
  }
}
