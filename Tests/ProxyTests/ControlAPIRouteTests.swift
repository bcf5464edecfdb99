import Config
import Foundation
import Hummingbird
import HummingbirdTesting
import Proxy
import RuleLang
import Testing

/// Every endpoint of the control API against `FakeProxyControl`: shapes, status codes, and that
/// each request makes exactly the call it should (and none when it is refused).
@Suite struct ControlAPIRouteTests {
  static let json: HTTPFields = [.contentType: "application/json"]

  @Test func listsAreArraysAndSingleObjectsArePlain() async throws {
    let fake = FakeProxyControl()
    await fake.seed(
      listener: ListenerConfig(
        name: "l1", spec: ListenerSpec(protocol: .udp, port: 9001), rules: "r"))
    try await withControlAPI(fake) { client, _ in
      let list = try await client.send(.get, "/api/v1/listeners")
      #expect(list.status == .ok)
      #expect(list.headers[.contentType] == "application/json; charset=utf-8")
      #expect(list.array.count == 1)
      #expect(list.array.first?["name"] as? String == "l1")
      let one = try await client.send(.get, "/api/v1/listeners/l1")
      #expect(one.status == .ok)
      #expect(one.object["rules"] as? String == "r")
      let spec = one.object["spec"] as? [String: Any]
      #expect(spec?["protocol"] as? String == "UDP")
      #expect(spec?["port"] as? Int == 9001)
      #expect(spec?["idle_timeout"] as? Double == 60)
      // The answer decodes back into the same object.
      let decoded = try ConfigDocument.decode(
        ListenerConfig.self, from: Array(one.body.readableBytesView), name: "answer")
      #expect(
        decoded
          == ListenerConfig(name: "l1", spec: ListenerSpec(protocol: .udp, port: 9001), rules: "r"))
      let empty = try await client.send(.get, "/api/v1/clusters")
      #expect(empty.status == .ok)
      #expect(empty.text == "[]\n")
    }
  }

  @Test(arguments: ["listener", "cluster", "rulelist"])
  func addGetReplaceDelete(kind: String) async throws {
    @Sendable func body(_ name: String, variant: Int) -> String {
      switch kind {
      case "listener": return Bodies.listener(name, port: 9000 + variant)
      case "cluster": return Bodies.cluster(name, port: 9000 + variant)
      default:
        return Bodies.rulelist(name, source: Bodies.goodRules + "\n// variant \(variant)\n")
      }
    }
    let capitalized = kind.prefix(1).uppercased() + kind.dropFirst()
    try await withControlAPI { client, fake in
      let base = "/api/v1/\(kind)s"
      let added = try await client.send(.post, base, body("a", variant: 1), headers: Self.json)
      #expect(added.status == .created)
      #expect(added.object["status"] as? Int == 201)
      #expect(added.object["message"] as? String == "\(kind) 'a' added")
      #expect((added.object["warnings"] != nil) == (kind == "rulelist"))

      let again = try await client.send(.post, base, body("a", variant: 2))
      #expect(again.status == .conflict)
      #expect(again.error.status == 409)
      #expect(again.error.message == "\(kind) 'a' exists")

      let got = try await client.send(.get, "\(base)/a")
      #expect(got.status == .ok)
      #expect(got.object["name"] as? String == "a")

      let replaced = try await client.send(.put, "\(base)/a", body("a", variant: 3))
      #expect(replaced.status == .ok)
      #expect(replaced.object["message"] as? String == "\(kind) 'a' replaced")
      let created = try await client.send(.put, "\(base)/b", body("b", variant: 4))
      #expect(created.status == .created)
      #expect(created.object["message"] as? String == "\(kind) 'b' added")
      let list = try await client.send(.get, base)
      #expect(list.array.compactMap { $0["name"] as? String } == ["a", "b"])

      let deleted = try await client.send(.delete, "\(base)/a")
      #expect(deleted.status == .ok)
      #expect(deleted.object["message"] as? String == "\(kind) 'a' deleted")
      let gone = try await client.send(.get, "\(base)/a")
      #expect(gone.status == .notFound)
      #expect(gone.error.message == "no \(kind) named 'a'")
      let deletedAgain = try await client.send(.delete, "\(base)/a")
      #expect(deletedAgain.status == .notFound)

      // PUT replaces in place: never a delete followed by an add.
      #expect(
        await fake.calls == [
          "add\(capitalized) a", "add\(capitalized) a", "put\(capitalized) a",
          "put\(capitalized) b",
          "delete\(capitalized) a", "delete\(capitalized) a",
        ])
    }
  }

  @Test func putWhoseBodyNamesAnotherObjectIsRefused() async throws {
    try await withControlAPI { client, fake in
      let r = try await client.send(.put, "/api/v1/listeners/x", Bodies.listener("y"))
      #expect(r.status == .badRequest)
      #expect(r.error.message.contains("the body names listener 'y' but the path names 'x'"))
      #expect(await fake.calls.isEmpty)
    }
  }

  @Test func bodiesMustBeWrappedInTheirKind() async throws {
    try await withControlAPI { client, fake in
      let bare = try await client.send(
        .post, "/api/v1/listeners",
        #"{"name": "l", "spec": {"protocol": "UDP", "port": 1}, "rules": "r"}"#)
      #expect(bare.status == .badRequest)
      #expect(bare.error.message.hasPrefix("request body:1:2: error: "))
      #expect(bare.error.message.contains("unknown key 'name'"))
      let wrongKind = try await client.send(.post, "/api/v1/clusters", Bodies.listener("l"))
      #expect(wrongKind.status == .badRequest)
      #expect(wrongKind.error.message.contains("unknown key 'listener'"))
      let empty = try await client.send(.post, "/api/v1/listeners", "{}")
      #expect(empty.status == .badRequest)
      #expect(empty.error.message.contains("missing key 'listener'"))
      #expect(await fake.calls.isEmpty)
    }
  }

  @Test func malformedBodiesAnswer400WithTheParseError() async throws {
    try await withControlAPI { client, fake in
      let truncated = try await client.send(.post, "/api/v1/listeners", #"{"listener": {"name": "#)
      #expect(truncated.status == .badRequest)
      #expect(truncated.error.status == 400)
      #expect(truncated.error.message.hasPrefix("request body"))
      let badKey = try await client.send(
        .post, "/api/v1/listeners",
        #"{"listener": {"name": "l", "spec": {"protocol": "UDP", "port": 1, "prot": 2}, "rules": "r"}}"#
      )
      #expect(badKey.status == .badRequest)
      #expect(badKey.error.message.contains("listener.spec.prot"))
      #expect(badKey.error.message.contains("unknown key 'prot'"))
      let badPort = try await client.send(
        .post, "/api/v1/listeners", Bodies.listener("l", port: 70000))
      #expect(badPort.status == .badRequest)
      #expect(badPort.error.message.contains("out of range"))
      let nothing = try await client.send(.post, "/api/v1/listeners", "  \n")
      #expect(nothing.status == .badRequest)
      #expect(nothing.error.message.contains("empty"))
      let binary = try await client.execute(
        uri: "/api/v1/clusters", method: .post, body: ByteBuffer(bytes: [0xFF, 0x00, 0xFE, 0x7B]))
      #expect(binary.status == .badRequest)
      #expect(await fake.calls.isEmpty)
    }
  }

  @Test func contentTypes() async throws {
    try await withControlAPI { client, fake in
      // JSON is YAML: a JSON body labelled YAML is read too.
      let yaml = try await client.send(
        .post, "/api/v1/listeners", Bodies.listener("y"),
        headers: [.contentType: "application/yaml"])
      #expect(yaml.status == .created)
      let charset = try await client.send(
        .post, "/api/v1/listeners", Bodies.listener("j"),
        headers: [.contentType: "application/json; charset=utf-8"])
      #expect(charset.status == .created)
      let form = try await client.send(
        .post, "/api/v1/listeners", Bodies.listener("f"),
        headers: [.contentType: "application/x-www-form-urlencoded"])
      #expect(form.status == .unsupportedMediaType)
      #expect(form.error.message.contains("application/json or application/yaml"))
      #expect(await fake.calls == ["addListener y", "addListener j"])
    }
  }

  @Test func ruleSourceWithErrorsAnswersTheDiagnosticsAndChangesNothing() async throws {
    try await withControlAPI { client, fake in
      let r = try await client.send(
        .post, "/api/v1/rulelists", Bodies.rulelist("bad", source: Bodies.rulesWithError))
      #expect(r.status == .badRequest)
      #expect(r.error.status == 400)
      #expect(r.error.message.contains("nothing was changed"))
      let error = r.object["error"] as? [String: Any]
      let diagnostics = error?["diagnostics"] as? [[String: Any]] ?? []
      #expect(!diagnostics.isEmpty)
      #expect(diagnostics.first?["severity"] as? String == "error")
      #expect(diagnostics.first?["line"] as? Int == 3)
      #expect(diagnostics.first?["file"] as? String == "bad")
      #expect((diagnostics.first?["message"] as? String)?.contains("src_adr") == true)
      let list = try await client.send(.get, "/api/v1/rulelists")
      #expect(list.array.isEmpty)

      let put = try await client.send(
        .put, "/api/v1/rulelists/bad", Bodies.rulelist("bad", source: Bodies.rulesWithError))
      #expect(put.status == .badRequest)
      #expect((put.object["error"] as? [String: Any])?["diagnostics"] != nil)
      #expect(await fake.rulelists().isEmpty)
    }
  }

  @Test func ruleSourceWithWarningsIsLoadedAndTheWarningsAnswered() async throws {
    try await withControlAPI { client, fake in
      let r = try await client.send(
        .post, "/api/v1/rulelists", Bodies.rulelist("warned", source: Bodies.rulesWithWarnings))
      #expect(r.status == .created)
      let warnings = r.object["warnings"] as? [[String: Any]] ?? []
      #expect(warnings.count == 2)
      #expect(warnings.map { $0["severity"] as? String } == ["warning", "warning"])
      #expect(warnings.map { $0["line"] as? Int } == [3, 6])
      #expect((warnings.first?["message"] as? String)?.contains("always false") == true)
      #expect(await fake.rulelists().map(\.name) == ["warned"])
      let clean = try await client.send(
        .post, "/api/v1/rulelists", Bodies.rulelist("clean", source: Bodies.goodRules))
      #expect(clean.status == .created)
      #expect((clean.object["warnings"] as? [Any])?.isEmpty == true)
    }
  }

  @Test func rulesRoutesAndSessionsUseSnakeCaseKeys() async throws {
    let fake = FakeProxyControl()
    let session = SessionInfo(
      name: "s1", listener: "l", source: "127.0.0.4:9001", rule: "l/all",
      destination: "worker/127.0.0.3:9999", status: "established", created: 1_700_000_000,
      packetsIn: 3, packetsOut: 2, bytesIn: 30, bytesOut: 20)
    await fake.set(sessions: [session])
    await fake.set(
      rules: [RuleStatus(name: "all", rulelist: "l", action: "route to worker", matches: 5)],
      routes: [
        RouteStatus(
          name: "l/all", destination: "worker", ingress: ["t"], egress: [], retryOn: "never",
          retries: 0, timeoutMilliseconds: 2000)
      ])
    try await withControlAPI(fake) { client, fake in
      let rules = try await client.send(.get, "/api/v1/rules")
      #expect(rules.status == .ok)
      #expect(rules.array.first?["matches"] as? Int == 5)
      #expect(rules.array.first?["action"] as? String == "route to worker")
      let routes = try await client.send(.get, "/api/v1/routes")
      #expect(routes.array.first?["retry_on"] as? String == "never")
      #expect(routes.array.first?["timeout_milliseconds"] as? Int == 2000)
      #expect(routes.array.first?["ingress"] as? [String] == ["t"])
      let sessions = try await client.send(.get, "/api/v1/sessions")
      #expect(sessions.array.first?["packets_in"] as? Int == 3)
      #expect(sessions.array.first?["bytes_out"] as? Int == 20)
      let one = try await client.send(.get, "/api/v1/sessions/s1")
      #expect(one.object["destination"] as? String == "worker/127.0.0.3:9999")
      let killed = try await client.send(.delete, "/api/v1/sessions/s1")
      #expect(killed.status == .ok)
      #expect(killed.object["message"] as? String == "session 's1' deleted")
      let again = try await client.send(.delete, "/api/v1/sessions/s1")
      #expect(again.status == .notFound)
      #expect(again.error.message == "no session named 's1'")
      let missing = try await client.send(.get, "/api/v1/sessions/s1")
      #expect(missing.status == .notFound)
      #expect(await fake.calls == ["deleteSession s1", "deleteSession s1"])
    }
  }

  @Test func percentEncodedNamesAreDecoded() async throws {
    let fake = FakeProxyControl()
    await fake.set(sessions: [
      SessionInfo(
        name: "l/127.0.0.4:9001", listener: "l", source: "127.0.0.4:9001", rule: "l/all",
        destination: "w", status: "established", created: 0, packetsIn: 0, packetsOut: 0,
        bytesIn: 0, bytesOut: 0)
    ])
    try await withControlAPI(fake) { client, fake in
      let r = try await client.send(.delete, "/api/v1/sessions/l%2F127.0.0.4%3A9001")
      #expect(r.status == .ok)
      #expect(await fake.calls == ["deleteSession l/127.0.0.4:9001"])
    }
  }

  @Test func probesAndMetrics() async throws {
    try await withControlAPI { client, fake in
      let health = try await client.send(.get, "/healthz")
      #expect(health.status == .ok)
      #expect(health.object["status"] as? String == "ok")
      let ready = try await client.send(.get, "/readyz")
      #expect(ready.status == .ok)
      await fake.set(ready: false)
      let notReady = try await client.send(.get, "/readyz")
      #expect(notReady.status == .serviceUnavailable)
      #expect(notReady.error.message.contains("not ready"))
      let metrics = try await client.send(.get, "/metrics")
      #expect(metrics.status == .ok)
      #expect(metrics.headers[.contentType]?.hasPrefix("text/plain; version=0.0.4") == true)
      #expect(metrics.text == (await fake.metricsText()))
    }
  }

  @Test func wrongMethodsAnswer405WithTheAllowedOnes() async throws {
    try await withControlAPI { client, fake in
      let r = try await client.send(.delete, "/api/v1/listeners")
      #expect(r.status == .methodNotAllowed)
      #expect(r.headers[.allow] == "GET, HEAD, POST")
      #expect(r.error.status == 405)
      #expect(r.error.message.contains("DELETE is not allowed on /api/v1/listeners"))
      let post = try await client.send(.post, "/api/v1/rules", "{}")
      #expect(post.status == .methodNotAllowed)
      #expect(post.headers[.allow] == "GET, HEAD")
      let patch = try await client.send(.patch, "/api/v1/clusters/c", "{}")
      #expect(patch.status == .methodNotAllowed)
      #expect(patch.headers[.allow] == "GET, HEAD, PUT, DELETE")
      let postSession = try await client.send(.post, "/api/v1/sessions/s", "{}")
      #expect(postSession.status == .methodNotAllowed)
      let head = try await client.send(.head, "/api/v1/listeners")
      #expect(head.status == .ok)
      #expect(await fake.calls.isEmpty)
    }
  }

  @Test func unknownPathsAnswer404InJSON() async throws {
    try await withControlAPI { client, _ in
      for path in ["/", "/api/v1", "/api/v2/listeners", "/api/v1/listeners/a/b", "/api/v1/widgets"]
      {
        let r = try await client.send(.get, path)
        #expect(r.status == .notFound, "\(path)")
        #expect(r.error.status == 404)
        #expect(r.error.message.contains("no such endpoint: GET \(path)"))
      }
    }
  }

  @Test func runtimeFailuresAnswerTheirStatus() async throws {
    try await withControlAPI { client, fake in
      await fake.set(failNext: .failed("port 9001 is already bound by another process"))
      let failed = try await client.send(.post, "/api/v1/listeners", Bodies.listener("l"))
      #expect(failed.status == .internalServerError)
      #expect(failed.error.message == "port 9001 is already bound by another process")
      await fake.set(failNext: .invalid("cluster 'worker' is named by no route"))
      let invalid = try await client.send(.put, "/api/v1/clusters/worker", Bodies.cluster("worker"))
      #expect(invalid.status == .badRequest)
      #expect(invalid.error.message == "cluster 'worker' is named by no route")
      await fake.set(failNext: .conflict("cluster 'worker' is in use by rule l/all"))
      let inUse = try await client.send(.delete, "/api/v1/clusters/worker")
      #expect(inUse.status == .conflict)
      #expect(inUse.error.message.contains("in use"))
    }
  }
}
