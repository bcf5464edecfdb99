import Config
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

@testable import Proxy

/// Who may do what: the bearer token, writes without a token, and the body size limit.
@Suite struct ControlAPISecurityTests {
  /// Over a real socket too: refused writes leave their body unread, and the connection must
  /// still carry the next request.
  @Test(arguments: [false, true])
  func withoutATokenWritesNeedLoopback(live: Bool) async throws {
    let exposed = ControlAPIOptions(address: "0.0.0.0", port: 0)
    try await withControlAPI(options: exposed, setup: live ? .live : .router) { client, fake in
      let read = try await client.send(.get, "/api/v1/listeners")
      #expect(read.status == .ok)
      let metrics = try await client.send(.get, "/metrics")
      #expect(metrics.status == .ok)
      for (method, path) in [
        (HTTPRequest.Method.post, "/api/v1/listeners"), (.put, "/api/v1/listeners/l"),
        (.delete, "/api/v1/clusters/c"), (.delete, "/api/v1/sessions/s"),
      ] {
        let r = try await client.send(method, path, Bodies.listener("l"))
        #expect(r.status == .forbidden, "\(method) \(path)")
        #expect(r.error.status == 403)
        #expect(r.error.message.contains("bound to 0.0.0.0, which is not loopback"))
        #expect(r.error.message.contains("--api-token-file"))
      }
      #expect(await fake.calls.isEmpty)
    }
    for address in ["127.0.0.1", "::1", "localhost"] {
      try await withControlAPI(options: ControlAPIOptions(address: address, port: 0)) {
        client, fake in
        let r = try await client.send(.post, "/api/v1/listeners", Bodies.listener("l"))
        #expect(r.status == .created, "\(address)")
        #expect(await fake.calls == ["addListener l"])
      }
    }
  }

  @Test(arguments: [false, true])
  func withATokenEveryRequestButTheProbesNeedsIt(live: Bool) async throws {
    let options = ControlAPIOptions(address: "0.0.0.0", port: 0, token: "s3cret-token")
    try await withControlAPI(options: options, setup: live ? .live : .router) { client, fake in
      for path in ["/api/v1/listeners", "/metrics", "/api/v1/sessions", "/nowhere"] {
        let r = try await client.send(.get, path)
        #expect(r.status == .unauthorized, "\(path)")
        #expect(r.headers[.wwwAuthenticate] == "Bearer realm=\"l7mp\"")
        #expect(r.error.message.contains("Authorization: Bearer TOKEN"))
      }
      for header in [
        "Bearer wrong", "Bearer s3cret-toke", "Bearer s3cret-token2", "Basic czNjcmV0",
      ] {
        let r = try await client.send(.get, "/api/v1/listeners", headers: [.authorization: header])
        #expect(r.status == .unauthorized, "\(header)")
      }
      let post = try await client.send(.post, "/api/v1/listeners", Bodies.listener("l"))
      #expect(post.status == .unauthorized)
      #expect(await fake.calls.isEmpty)

      let good: HTTPFields = [.authorization: "Bearer s3cret-token"]
      #expect(try await client.send(.get, "/api/v1/listeners", headers: good).status == .ok)
      #expect(try await client.send(.get, "/metrics", headers: good).status == .ok)
      // With a token, writes are allowed on any address; the scheme is case-insensitive.
      let added = try await client.send(
        .post, "/api/v1/listeners", Bodies.listener("l"),
        headers: [.authorization: "bearer s3cret-token"])
      #expect(added.status == .created)
      #expect(await fake.calls == ["addListener l"])
      // Kubernetes probes carry no credentials.
      #expect(try await client.send(.get, "/healthz").status == .ok)
      #expect(try await client.send(.get, "/readyz").status == .ok)
    }
  }

  @Test func bodiesOverTheLimitAnswer413() async throws {
    let options = ControlAPIOptions(port: 0, maxBodyBytes: 100)
    let big = Bodies.listener("l", rules: String(repeating: "r", count: 200))
    try await withControlAPI(options: options) { client, fake in
      let r = try await client.send(.post, "/api/v1/listeners", big)
      #expect(r.status == .contentTooLarge)
      #expect(r.error.status == 413)
      #expect(r.error.message.contains("limit of 100 bytes"))
      let declared = try await client.send(
        .post, "/api/v1/listeners", big, headers: [.contentLength: "\(big.utf8.count)"])
      #expect(declared.status == .contentTooLarge)
      let small = try await client.send(.post, "/api/v1/listeners", Bodies.listener("l"))
      #expect(small.status == .created)
      #expect(await fake.calls == ["addListener l"])
    }
    // Over a real socket, including a body larger than the socket's buffers.
    let huge = Bodies.listener("l", rules: String(repeating: "r", count: 3 << 20))
    try await withControlAPI(options: ControlAPIOptions(port: 0), setup: .live) { client, fake in
      let r = try await client.send(.post, "/api/v1/listeners", huge)
      #expect(r.status == .contentTooLarge)
      #expect(r.error.message.contains("limit of 1048576 bytes"))
      #expect(await fake.calls.isEmpty)
    }
  }

  @Test(arguments: [
    ("127.0.0.1", true), ("127.1.2.3", true), ("::1", true), ("[::1]", true),
    ("localhost", true), ("LOCALHOST", true), ("::ffff:127.0.0.1", true),
    ("0.0.0.0", false), ("10.0.0.1", false), ("128.0.0.1", false), ("::", false),
    ("::2", false), ("example.com", false), ("", false),
  ])
  func loopbackAddresses(address: String, loopback: Bool) {
    #expect(ControlAPIOptions.isLoopback(address) == loopback)
  }

  @Test func tokenFiles() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
      "l7mp-token-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    func file(_ name: String, _ text: String) throws -> String {
      let path = dir.appendingPathComponent(name).path
      try text.write(toFile: path, atomically: true, encoding: .utf8)
      return path
    }
    #expect(try ControlAPIOptions.token(fromFile: try file("t", "abc123\n")) == "abc123")
    let empty = try file("empty", " \n")
    #expect(throws: ControlAPIOptionsError.self) { try ControlAPIOptions.token(fromFile: empty) }
    do {
      _ = try ControlAPIOptions.token(fromFile: empty)
    } catch {
      #expect(
        error.message == "\(empty): the API token file is empty; put the token (one line) in it")
    }
    let spaced = try file("spaced", "two words\n")
    #expect(throws: ControlAPIOptionsError.self) { try ControlAPIOptions.token(fromFile: spaced) }
    let missing = dir.appendingPathComponent("missing").path
    do {
      _ = try ControlAPIOptions.token(fromFile: missing)
      Issue.record("a missing token file was read")
    } catch {
      #expect(error.message == "\(missing): cannot read the API token file")
    }
  }

  @Test func optionsForRun() throws {
    let admin = AdminConfig(address: "127.0.0.1", port: 4321)
    let plain = try ControlAPIOptions.forRun(admin: admin)
    #expect(plain == ControlAPIOptions(address: "127.0.0.1", port: 4321))
    #expect(plain.maxBodyBytes == 1 << 20)
    let bound = try ControlAPIOptions.forRun(admin: admin, bind: "0.0.0.0")
    #expect(bound.address == "0.0.0.0")
    #expect(!bound.isLoopback)
    let path = FileManager.default.temporaryDirectory.appendingPathComponent(
      "l7mp-token-\(UUID().uuidString)"
    ).path
    try "tok\n".write(toFile: path, atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(atPath: path) }
    #expect(try ControlAPIOptions.forRun(admin: admin, tokenFile: path).token == "tok")
    #expect(throws: ControlAPIOptionsError.self) {
      try ControlAPIOptions.forRun(admin: admin, tokenFile: path + ".missing")
    }
  }

  @Test func tokenComparison() {
    typealias Auth = ControlAPIAuthMiddleware<BasicRequestContext>
    #expect(Auth.constantTimeEqual(Array("abc".utf8), Array("abc".utf8)))
    #expect(!Auth.constantTimeEqual(Array("abc".utf8), Array("abd".utf8)))
    #expect(!Auth.constantTimeEqual(Array("abc".utf8), Array("abcd".utf8)))
    #expect(!Auth.constantTimeEqual(Array("".utf8), Array("a".utf8)))
    #expect(Auth.bearerToken("Bearer  tok ") == "tok")
    #expect(Auth.bearerToken("Bearer") == nil)
    #expect(Auth.bearerToken("Token tok") == nil)
  }
}
