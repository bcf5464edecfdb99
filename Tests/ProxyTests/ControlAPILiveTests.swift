import Config
import ControlClient
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import NIOPosix
import Proxy
import Testing

/// The control API on a real loopback socket: Hummingbird's live test client, and the real `curl`
/// against `ControlAPI.application` as `l7mp run` starts it (port 0, the bound port reported).
@Suite struct ControlAPILiveTests {
  @Test func liveRoundTrip() async throws {
    try await withControlAPI(setup: .live) { client, fake in
      let added = try await client.send(
        .post, "/api/v1/clusters", Bodies.cluster("worker"),
        headers: [.contentType: "application/json"])
      #expect(added.status == .created)
      let got = try await client.send(.get, "/api/v1/clusters/worker")
      #expect(got.status == .ok)
      let endpoints = got.object["endpoints"] as? [[String: Any]]
      #expect((endpoints?.first?["spec"] as? [String: Any])?["address"] as? String == "127.0.0.3")
      let garbage = try await client.send(.post, "/api/v1/clusters", "\u{1}\u{2}not json at all")
      #expect(garbage.status == .badRequest)
      // The server keeps serving after bad input.
      #expect(try await client.send(.get, "/healthz").status == .ok)
      #expect(await fake.calls == ["addCluster worker"])
    }
  }

  @Test func curlAgainstTheServer() async throws {
    let fake = FakeProxyControl()
    let options = ControlAPIOptions(address: "127.0.0.1", port: 0, token: "tok-123")
    try await withControlAPIServer(fake, options: options) { port in
      let base = "http://127.0.0.1:\(port)"
      let auth = ["-H", "Authorization: Bearer tok-123"]

      let health = try Self.curl([base + "/healthz"])
      #expect(health.status == 200)
      let refused = try Self.curl([base + "/api/v1/listeners"])
      #expect(refused.status == 401)
      #expect(refused.body.contains("\"status\":401"))

      let body = Bodies.listener("udp-in", port: 9001)
      let posted = try Self.curl(
        auth + [
          "-X", "POST", "-H", "Content-Type: application/json", "--data-binary", body,
          base + "/api/v1/listeners",
        ])
      #expect(posted.status == 201)
      #expect(posted.body.contains("listener 'udp-in' added"))
      let list = try Self.curl(auth + [base + "/api/v1/listeners"])
      #expect(list.status == 200)
      #expect(list.body.contains("\"name\":\"udp-in\""))
      let wrong = try Self.curl(auth + ["-X", "DELETE", base + "/api/v1/rules"])
      #expect(wrong.status == 405)
      let deleted = try Self.curl(auth + ["-X", "DELETE", base + "/api/v1/listeners/udp-in"])
      #expect(deleted.status == 200)
      #expect(await fake.calls == ["addListener udp-in", "deleteListener udp-in"])
    }
  }

  @Test func garbageIsAnsweredOrDroppedAndTheServerKeepsServing() async throws {
    let fake = FakeProxyControl()
    try await withControlAPIServer(fake) { port in
      let garbage = [
        "\u{0}\u{1}\u{2}garbage\r\n\r\n",
        "GET / HTTP/9.9\r\n\r\n",
        "POST /api/v1/listeners HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
        "GET /" + String(repeating: "A", count: 200_000) + " HTTP/1.1\r\n\r\n",
        "GET /healthz HTTP/1.1\r\n" + String(repeating: "X-A: b\r\n", count: 20_000) + "\r\n",
      ]
      for request in garbage {
        let answer = try await Self.rawExchange(port: port, Array(request.utf8))
        // A 4xx answer, or the connection closed without one: never a hang, never a 2xx.
        #expect(answer.isEmpty || answer.hasPrefix("HTTP/1.1 4"), "\(answer.prefix(80))")
      }
      #expect(
        try await ControlClient(port: port, timeout: .seconds(60)).list(ListenerConfig.self).isEmpty
      )
      #expect(await fake.calls.isEmpty)
    }
  }

  /// Writes `bytes` on a fresh connection and reads until the server closes it (at most 20 s).
  static func rawExchange(port: Int, _ bytes: [UInt8]) async throws -> String {
    let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
      .connect(host: "127.0.0.1", port: port) { channel in
        channel.eventLoop.makeCompletedFuture {
          try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
        }
      }
    return try await withThrowingTaskGroup(of: String?.self) { group in
      group.addTask {
        try await channel.executeThenClose { inbound, outbound in
          // The server may close before it has read everything: a failed write is an answer too.
          try? await outbound.write(ByteBuffer(bytes: bytes))
          var answer = ""
          do {
            for try await buffer in inbound { answer += String(buffer: buffer) }
          } catch {
            // A reset after the answer is a close.
          }
          return answer
        }
      }
      group.addTask {
        try await Task.sleep(for: .seconds(20))
        return nil
      }
      defer { group.cancelAll() }
      guard let first = try await group.next(), let answer = first else {
        throw ControlAPITestError(message: "the server neither answered nor closed within 20 s")
      }
      return answer
    }
  }

  /// Runs curl (bounded by its own --max-time) and returns the HTTP status and the body.
  static func curl(_ arguments: [String]) throws -> (status: Int, body: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments =
      ["curl", "-sS", "--max-time", "20", "-o", "-", "-w", "\n%{http_code}"] + arguments
    let out = Pipe()
    process.standardOutput = out
    try process.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    let text = String(decoding: data, as: UTF8.self)
    let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
    let status = Int(lines.last ?? "") ?? -1
    return (status, lines.dropLast().joined(separator: "\n"))
  }
}
