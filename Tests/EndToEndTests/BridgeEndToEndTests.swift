import Foundation
import TestSupport
import Testing

/// Issue 5: the bridge's reconciler against a real proxy (`l7mp run` on loopback): apply, change one
/// VirtualService's rule, remove another — after each pass the proxy runs exactly what the manifests
/// say, and a live UDP session of the VirtualService that did not change keeps flowing (the same
/// session, never re-created).
@Suite struct BridgeEndToEndTests {
  static func manifests(apiPort: Int, a: Int, b: Int, echoA: Int, echoB: Int, bRule: Int?) -> String
  {
    func vs(_ name: String, _ port: Int, _ echo: Int, match: Int?) -> String {
      let m = match.map { "\n      match: { op: test, path: /UDP/src_port, value: \($0) }" } ?? ""
      return """
        apiVersion: l7mp.io/v1
        kind: VirtualService
        metadata: { name: \(name), namespace: default }
        spec:
          selector: { matchLabels: { app: proxy } }
          listener:
            spec: { protocol: UDP, port: \(port), address: 127.0.0.1 }
            rules:
            - action:
                route:
                  destination:
                    spec: { protocol: UDP, port: \(echo), address: 127.0.0.1 }\(m)
        ---

        """
    }
    var text = """
      apiVersion: v1
      kind: Pod
      metadata: { name: proxy-0, namespace: default, labels: { app: proxy } }
      status: { podIP: 127.0.0.1 }
      ---

      """
    text += vs("vs-a", a, echoA, match: nil)
    if let bRule { text += vs("vs-b", b, echoB, match: bRule) }
    return text
  }

  private static func curl(_ url: String) throws -> String {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["curl", "-s", "--max-time", "10", url]
    let out = Pipe()
    p.standardOutput = out
    try p.run()
    let d = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return String(decoding: d, as: UTF8.self)
  }

  @Test func reconcileKeepsUnaffectedSessions() throws {
    let echoA = freeLoopbackPort(udp: true)
    let echoB = freeLoopbackPort(udp: true)
    let a = freeLoopbackPort(udp: true)
    let b = freeLoopbackPort(udp: true)
    let e1 = try ServerProcess.l7mp(["echo", "--udp", "127.0.0.1:\(echoA)"])
    let e2 = try ServerProcess.l7mp(["echo", "--udp", "127.0.0.1:\(echoB)"])
    let proxy = try ServerProcess.l7mp(["run", "--api-bind", "127.0.0.1", "--api-port", "0"])
    defer { for p in [proxy, e1, e2] { p.stop() } }
    try #require(proxy.waitForOutput("l7mp: ready"), "\(proxy.stderr)")
    let api = try #require(proxy.port(after: "control API on"))
    let base = "http://127.0.0.1:\(api)/api/v1"
    let file = try CLI.temporaryFile(
      "manifests.yaml",
      Self.manifests(apiPort: api, a: a, b: b, echoA: echoA, echoB: echoB, bRule: 5000))
    func bridge() throws -> CLI.Result {
      try CLI.run(["bridge", "--manifests", file, "--once", "--api-port", "\(api)"])
    }

    // Apply: both listeners appear.
    let first = try bridge()
    #expect(first.status == 0, "\(first.stdout)\(first.stderr)")
    #expect(
      first.stdout.contains("POST listener vs-a") && first.stdout.contains("POST listener vs-b"))
    let listeners = try Self.curl("\(base)/listeners")
    #expect(listeners.contains("\"vs-a\"") && listeners.contains("\"vs-b\""))

    // A live session on vs-a.
    let client = try UDPTestSocket(port: 0)
    client.send("ping 1", to: a)
    #expect(client.receive() == "ping 1")
    let sessionsBefore = try Self.curl("\(base)/sessions")
    let name = try #require(
      (try JSONSerialization.jsonObject(with: Data(sessionsBefore.utf8)) as? [[String: Any]])?
        .first?["name"] as? String)

    // Change vs-b's rule: only its rule source is replaced.
    try Self.manifests(apiPort: api, a: a, b: b, echoA: echoA, echoB: echoB, bRule: 6000)
      .write(toFile: file, atomically: true, encoding: .utf8)
    let second = try bridge()
    #expect(second.status == 0, "\(second.stdout)\(second.stderr)")
    #expect(second.stdout.contains("PUT rulelist vs-b"), "\(second.stdout)")
    #expect(!second.stdout.contains("vs-a"), "vs-a is untouched: \(second.stdout)")
    #expect(try Self.curl("\(base)/rulelists").contains("6000"))
    client.send("ping 2", to: a)
    #expect(client.receive() == "ping 2")

    // Remove vs-b: its listener, rule source and cluster go; vs-a's session is still the same one.
    try Self.manifests(apiPort: api, a: a, b: b, echoA: echoA, echoB: echoB, bRule: nil)
      .write(toFile: file, atomically: true, encoding: .utf8)
    let third = try bridge()
    #expect(third.status == 0, "\(third.stdout)\(third.stderr)")
    #expect(third.stdout.contains("DELETE listener vs-b"), "\(third.stdout)")
    let after = try Self.curl("\(base)/listeners")
    #expect(after.contains("\"vs-a\"") && !after.contains("\"vs-b\""))
    client.send("ping 3", to: a)
    #expect(client.receive() == "ping 3")
    let sessionsAfter = try Self.curl("\(base)/sessions")
    let session =
      (try JSONSerialization.jsonObject(with: Data(sessionsAfter.utf8)) as? [[String: Any]])?
      .first { $0["name"] as? String == name }
    #expect(
      session?["packets_in"] as? Int == 3, "the same session carried all three: \(sessionsAfter)")

    // In step: another pass changes nothing.
    let fourth = try bridge()
    #expect(fourth.status == 0 && fourth.stdout.contains("in step"), "\(fourth.stdout)")
  }
}
