import Foundation
import Testing

/// `curl` against a proxy's control API.
private func curl(_ arguments: [String]) throws -> String {
  let p = Process()
  p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
  p.arguments = ["curl", "-s", "--max-time", "10"] + arguments
  let out = Pipe()
  p.standardOutput = out
  try p.run()
  let d = out.fileHandleForReading.readDataToEndOfFile()
  p.waitUntilExit()
  return String(decoding: d, as: UTF8.self)
}

/// The Prometheus sample `name{…labels…}`'s value.
private func metric(_ text: String, _ name: String, _ labels: String) -> Double? {
  for line in text.split(separator: "\n") where line.hasPrefix(name + "{") && line.contains(labels)
  {
    return Double(line.split(separator: " ").last ?? "")
  }
  return nil
}

/// Issue 6: the seed's gateway → transcoder → worker example on loopback, configured by the bridge
/// from examples/udp-gateway, with real processes: two proxies, the UDS and UDP echo servers, the
/// bridge, and a UDP client sending from 127.0.0.4:9001. It uses the example's fixed addresses
/// and ports (127.0.0.1–4, 9001, 9999, 1234), as `make run` does, so its tests run one at a time.
@Suite(.serialized) struct SeedExampleEndToEndTests {
  static let run = "/tmp/l7mp-udp-gateway"

  @Test func datagramsTakeTheWholePathAndTheBridgeFollowsTheManifests() throws {
    // The manifests, copied so the test can edit them.
    let manifests = FileManager.default.temporaryDirectory.appendingPathComponent(
      "l7mp-seed-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: manifests, withIntermediateDirectories: true)
    for name in ["virtualservices.yaml", "kubernetes.yaml"] {
      try FileManager.default.copyItem(
        atPath: CLI.repo("examples/udp-gateway/\(name)"),
        toPath: manifests.appendingPathComponent(name).path)
    }
    try FileManager.default.createDirectory(atPath: Self.run, withIntermediateDirectories: true)
    try? FileManager.default.removeItem(atPath: Self.run + "/uds-echo.sock")
    let debug = ["L7MP_LOG_LEVEL": "debug"]

    let worker = try ServerProcess.l7mp(["echo", "--udp", "127.0.0.3:9999"], environment: debug)
    let udsEcho = try ServerProcess.l7mp(
      ["echo", "--uds", Self.run + "/uds-echo.sock"], environment: debug)
    let gateway = try ServerProcess.l7mp(["run", "--api-bind", "127.0.0.1"])
    let transcoder = try ServerProcess.l7mp(
      ["run", "--api-bind", "127.0.0.2"], environment: debug)
    defer {
      for p in [gateway, transcoder, worker, udsEcho] { p.stop() }
    }
    try #require(gateway.waitForOutput("l7mp: ready"), "gateway: \(gateway.stderr)")
    try #require(transcoder.waitForOutput("l7mp: ready"), "transcoder: \(transcoder.stderr)")

    let bridge = try ServerProcess.l7mp([
      "bridge", "--manifests", manifests.path, "--poll", "0.2", "--resync", "2",
    ])
    defer { bridge.stop() }
    // Configured when the gateway's listener is there.
    let deadline = Date().addingTimeInterval(30)
    while Date() < deadline,
      !(try curl(["http://127.0.0.1:1234/api/v1/listeners"])).contains("my-udp-endpoint")
    {
      Thread.sleep(forTimeInterval: 0.1)
    }
    try #require(
      try curl(["http://127.0.0.2:1234/api/v1/listeners"]).contains("transcoder"),
      "bridge: \(bridge.stderr)")

    // Numbered datagrams from the admitted source: every one comes back, in order.
    let count = 50
    let client = try UDPTestSocket(bindTo: "127.0.0.4", port: 9001)
    var replies: [String] = []
    for i in 1...count {
      client.send("datagram \(i)", to: 9001)
      guard let r = client.receive() else { break }
      replies.append(r)
    }
    #expect(replies == (1...count).map { "datagram \($0)" })

    // Each hop saw each datagram: the transcoder over WebSocket, with the gateway's `id: 1` in
    // its upgrade request; the UDS echo behind it; the worker.
    #expect(transcoder.stderr.contains("websocket upgrade"))
    #expect(
      transcoder.stderr.split(separator: "\n").contains {
        $0.contains("websocket upgrade") && $0.contains("id: 1")
      }, "\(transcoder.stderr)")
    let transcoderMetrics = try curl(["http://127.0.0.2:1234/metrics"])
    #expect(
      metric(transcoderMetrics, "l7mp_listener_packets_total", "listener=\"transcoder\"")
        == Double(count))
    #expect(
      metric(
        transcoderMetrics, "l7mp_cluster_packets_sent_total", "cluster=\"transcoder-destination\"")
        == Double(count))
    #expect(udsEcho.stderr.contains("stream data"), "the UDS echo saw the data")
    #expect(
      worker.stderr.components(separatedBy: "udp datagram").count - 1 == count,
      "\(worker.stderr.suffix(500))")

    // A source the rule does not admit: dropped and counted.
    let stranger = try UDPTestSocket(bindTo: "127.0.0.4", port: 9002, timeout: 1)
    stranger.send("let me in", to: 9001)
    #expect(stranger.receive() == nil)
    let gatewayMetrics = try curl(["http://127.0.0.1:1234/metrics"])
    #expect(
      metric(gatewayMetrics, "l7mp_listener_drops_total", "reason=\"rules\"") == 1)

    // The live session is listed, and killing it through the API ends it.
    let sessions = try curl(["http://127.0.0.1:1234/api/v1/sessions"])
    let json = try JSONSerialization.jsonObject(with: Data(sessions.utf8)) as? [[String: Any]]
    let session = try #require(json?.first { ($0["source"] as? String) == "127.0.0.4:9001" })
    let name = try #require(session["name"] as? String)
    #expect(session["packets_in"] as? Int == count)
    _ = try curl(["-X", "DELETE", "http://127.0.0.1:1234/api/v1/sessions/\(name)"])
    #expect(!(try curl(["http://127.0.0.1:1234/api/v1/sessions"])).contains("127.0.0.4:9001"))

    // Changing the admitted port in the manifest reconfigures the gateway, without a restart.
    let vsPath = manifests.appendingPathComponent("virtualservices.yaml").path
    let vs = try String(contentsOfFile: vsPath, encoding: .utf8)
    try vs.replacingOccurrences(
      of: "{ op: test, path: '/UDP/src_port', value: 9001 }",
      with: "{ op: test, path: '/UDP/src_port', value: 9002 }"
    ).write(toFile: vsPath, atomically: true, encoding: .utf8)
    var admitted = false
    let changeDeadline = Date().addingTimeInterval(30)
    while Date() < changeDeadline, !admitted {
      stranger.send("let me in", to: 9001)
      admitted = stranger.receive() == "let me in"
    }
    #expect(admitted, "bridge: \(bridge.stderr.suffix(1000))")
    client.send("datagram \(count + 1)", to: 9001)
    #expect(client.receive() == nil, "9001 is no longer admitted")
    #expect(gateway.process.isRunning && transcoder.process.isRunning)
  }
}
