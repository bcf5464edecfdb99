import Config
import Foundation
import Hummingbird
import RuleLang

/// The endpoints of the control API, each translating one request into one `ProxyControl` call.
struct ControlAPIRoutes<Context: RequestContext>: Sendable {
  let control: any ProxyControl
  let maxBodyBytes: Int

  typealias Handler = @Sendable (Request, Context) async throws -> Response

  /// Methods that get a 405 (rather than a 404) on a path that exists but does not take them.
  static var knownMethods: [HTTPRequest.Method] {
    [.get, .head, .post, .put, .delete, .patch, .options]
  }

  func register(on router: Router<Context>) {
    let control = self.control
    endpoint(router, "/healthz", [.get: { _, _ in try ControlAPIBody.json(["status": "ok"]) }])
    endpoint(
      router, "/readyz",
      [
        .get: { _, _ in
          guard await control.isReady() else {
            throw ControlAPIError(.serviceUnavailable, "not ready: not every listener is bound yet")
          }
          return try ControlAPIBody.json(["status": "ready"])
        }
      ])
    endpoint(
      router, "/metrics",
      [
        .get: { _, _ in
          var headers = HTTPFields()
          headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
          return Response(
            status: .ok, headers: headers,
            body: ResponseBody(byteBuffer: ByteBuffer(string: await control.metricsText())))
        }
      ])

    objectEndpoints(
      router, plural: "listeners", list: { await control.listeners() },
      add: { listener in
        try await control.addListener(listener)
        return nil
      },
      put: { listener in (try await control.putListener(listener), nil) },
      delete: { name in try await control.deleteListener(named: name) })
    objectEndpoints(
      router, plural: "clusters", list: { await control.clusters() },
      add: { cluster in
        try await control.addCluster(cluster)
        return nil
      },
      put: { cluster in (try await control.putCluster(cluster), nil) },
      delete: { name in try await control.deleteCluster(named: name) })
    objectEndpoints(
      router, plural: "rulelists", list: { await control.rulelists() },
      add: { rulelist in try await control.addRulelist(rulelist) },
      put: { rulelist in
        // putRulelist does not say whether it replaced, so ask first (for 200 vs 201 only).
        let existed = await control.rulelists().contains { $0.name == rulelist.name }
        return (existed, try await control.putRulelist(rulelist))
      },
      delete: { name in try await control.deleteRulelist(named: name) })

    endpoint(
      router, "/api/v1/rules", [.get: { _, _ in try ControlAPIBody.json(await control.rules()) }])
    endpoint(
      router, "/api/v1/routes", [.get: { _, _ in try ControlAPIBody.json(await control.routes()) }])
    endpoint(
      router, "/api/v1/sessions",
      [.get: { _, _ in try ControlAPIBody.json(await control.sessions()) }])
    endpoint(
      router, "/api/v1/sessions/:name",
      [
        .get: { _, context in
          let name = try Self.name(context)
          guard let session = await control.sessions().first(where: { $0.name == name }) else {
            throw ControlError.notFound(kind: "session", name: name)
          }
          return try ControlAPIBody.json(session)
        },
        .delete: { _, context in
          let name = try Self.name(context)
          try await control.deleteSession(named: name)
          return ControlAPIBody.done(.ok, "session '\(name)' deleted")
        },
      ])
  }

  /// `/api/v1/<plural>` (GET list, POST add) and `/api/v1/<plural>/:name` (GET, PUT, DELETE).
  /// `add` and `put` return the rule checker's warnings for rulelists, nil for other kinds.
  private func objectEndpoints<Object: ControlObject>(
    _ router: Router<Context>, plural: String,
    list: @escaping @Sendable () async -> [Object],
    add: @escaping @Sendable (Object) async throws -> [Diagnostic]?,
    put: @escaping @Sendable (Object) async throws -> (existed: Bool, warnings: [Diagnostic]?),
    delete: @escaping @Sendable (String) async throws -> Void
  ) {
    let maxBodyBytes = self.maxBodyBytes
    let kind = Object.kind
    @Sendable func warnings(_ w: [Diagnostic]?, _ object: Object) -> String? {
      guard let w, let rulelist = object as? RulelistConfig else { return nil }
      return ControlAPIBody.warningsJSON(w, of: rulelist)
    }
    endpoint(
      router, RouterPath("/api/v1/\(plural)"),
      [
        .get: { _, _ in try ControlAPIBody.json(await list()) },
        .post: { request, _ in
          let object = try await ControlAPIBody.object(
            Object.self, from: request, maxBytes: maxBodyBytes)
          let w = try await add(object)
          return ControlAPIBody.done(
            .created, "\(kind) '\(object.name)' added", warningsJSON: warnings(w, object))
        },
      ])
    endpoint(
      router, RouterPath("/api/v1/\(plural)/:name"),
      [
        .get: { _, context in
          let name = try Self.name(context)
          guard let object = await list().first(where: { $0.name == name }) else {
            throw ControlError.notFound(kind: kind, name: name)
          }
          return try ControlAPIBody.json(object)
        },
        .put: { request, context in
          let name = try Self.name(context)
          let object = try await ControlAPIBody.object(
            Object.self, from: request, maxBytes: maxBodyBytes)
          guard object.name == name else {
            throw ControlAPIError(
              .badRequest,
              "the body names \(kind) '\(object.name)' but the path names '\(name)'; they must agree"
            )
          }
          let (existed, w) = try await put(object)
          return ControlAPIBody.done(
            existed ? .ok : .created, "\(kind) '\(name)' \(existed ? "replaced" : "added")",
            warningsJSON: warnings(w, object))
        },
        .delete: { _, context in
          let name = try Self.name(context)
          try await delete(name)
          return ControlAPIBody.done(.ok, "\(kind) '\(name)' deleted")
        },
      ])
  }

  /// Registers `handlers` on `path`, and a 405 naming the allowed methods for every other method.
  private func endpoint(
    _ router: Router<Context>, _ path: RouterPath, _ handlers: [HTTPRequest.Method: Handler]
  ) {
    let allowed = Self.knownMethods.filter {
      handlers[$0] != nil || ($0 == .head && handlers[.get] != nil)
    }
    for (method, handler) in handlers {
      router.on(path, method: method, use: handler)
    }
    for method in Self.knownMethods where !allowed.contains(method) {
      router.on(path, method: method) { request, _ -> Response in
        throw ControlAPIError.methodNotAllowed(method, path: request.uri.path, allowed: allowed)
      }
    }
  }

  private static func name(_ context: Context) throws -> String {
    let raw = try context.parameters.require("name")
    return raw.removingPercentEncoding ?? raw
  }
}
