import Foundation
import Testing

/// `l7mp test` on the capture that ships in examples/: verdicts, expectations, exit codes.
@Suite struct TestCommandTests {
  static let rules = CLI.repo("examples/gateway.rules")
  static let capture = CLI.repo("examples/captures/gateway.pcap")
  static let expectations = CLI.repo("examples/captures/gateway.expect.yaml")

  /// What `make test` runs: the shipped expectations hold.
  @Test func shippedExpectationsHold() throws {
    let r = try CLI.run(["test", Self.rules, "--pcap", Self.capture, "--expect", Self.expectations])
    #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
    #expect(r.stdout.contains("gateway.expect.yaml: all 10 expectations hold"), "\(r.stdout)")
    #expect(r.stdout.contains("10 frames (pcap, ethernet), 7 decoded, 3 undecodable"))
  }

  @Test func tableListsEveryFrame() throws {
    let r = try CLI.run(["test", Self.rules, "--pcap", Self.capture])
    #expect(r.status == 0, "\(r.stderr)")
    let lines = r.stdout.split(separator: "\n").map(String.init)
    #expect(lines.count == 12, "\(r.stdout)")
    #expect(lines[0].hasPrefix("frame  time      flow"), "\(lines[0])")
    // (flow, rule, action) of each frame.
    let expected = [
      ("UDP 10.0.0.7:9001 → 10.0.0.1:9001", "from-gateway", "route to worker via transcoder"),
      ("UDP 192.168.1.5:5000 → 10.0.0.1:5060", "sip", "route to sip-proxy via transcoder, codec"),
      ("UDP 10.0.0.9:4000 → 10.0.0.1:7000", "rtp", "route to media"),
      ("UDP 172.16.0.1:1234 → 10.0.0.1:53", "everything-else", "drop"),
      ("UDP 10.0.0.7:9001 → 10.0.0.1:9001", "from-gateway", "route to worker"),
      ("UDP [2001:db8::5]:5000 → [2001:db8::1]:5061", "sip", "route to sip-proxy"),
      ("-", "-", "undecodable: not IP (ethertype 0x0806, ARP)"),
      ("-", "-", "undecodable: IPv4 fragment (offset 0, more fragments follow)"),
      ("TCP 10.0.0.7:40000 → 10.0.0.1:80", "-", "not run: the rules have no TCP rulelist"),
      ("-", "-", "undecodable: unsupported protocol 1 (ICMP)"),
    ]
    for (k, (flow, rule, action)) in expected.enumerated() {
      let cells = lines[k + 1].components(separatedBy: "  ").map {
        $0.trimmingCharacters(in: .whitespaces)
      }.filter { !$0.isEmpty }
      #expect(cells.count == 6, "\(cells)")
      guard cells.count == 6 else { continue }
      #expect(cells[0] == String(k + 1))
      #expect(cells[2] == flow && cells[4] == rule && cells[5].hasPrefix(action), "\(cells)")
    }
    #expect(lines[2].contains("0.010250"), "\(lines[2])")
  }

  @Test func differencesExitOne() throws {
    let wrong = try CLI.temporaryFile(
      "wrong.yaml",
      """
      {"expect": [
        {"frame": 1, "rule": "sip"},
        {"frame": 3, "set": {"labels.ssrc": 1}},
        {"frame": 4, "drop": true},
        {"frame": 11, "drop": true}
      ]}
      """)
    let r = try CLI.run(["test", Self.rules, "--pcap", Self.capture, "--expect", wrong])
    #expect(r.status == 1, "\(r.stdout)\(r.stderr)")
    let differences = r.stdout.split(separator: "\n").filter { $0.hasPrefix(wrong + ": frame") }
    #expect(
      differences.map { String($0.dropFirst(wrong.count + 2)) } == [
        "frame 1: expected rule 'sip', got rule 'from-gateway' → route to worker via transcoder with remove_orphan_sessions = true",
        "frame 3: expected set labels.ssrc = 1, got labels.ssrc = 3735928559",
        "frame 11: no such frame; the capture has 10",
      ], "\(r.stdout)")
    #expect(r.stdout.contains("wrong.yaml: 3 differences in 4 expectations"))
  }

  @Test func jsonFormat() throws {
    let r = try CLI.run([
      "test", Self.rules, "--pcap", Self.capture, "--expect", Self.expectations, "--format", "json",
    ])
    #expect(r.status == 0, "\(r.stderr)")
    let doc = try #require(
      JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], "\(r.stdout)")
    let frames = try #require(doc["frames"] as? [[String: Any]])
    #expect(frames.count == 10)
    #expect(frames[0]["verdict"] as? String == "route")
    #expect(frames[0]["route"] as? String == "worker")
    #expect((frames[0]["rule"] as? [String: Any])?["name"] as? String == "from-gateway")
    #expect(frames[0]["time"] as? String == "2025-11-26T16:00:00.000000000Z")
    #expect(
      frames[2]["set"] as? [[String: String]] == [["path": "labels.ssrc", "value": "3735928559"]])
    #expect(frames[6]["verdict"] as? String == "undecodable")
    #expect(frames[8]["verdict"] as? String == "no-rulelist")
    let expectations = try #require(doc["expectations"] as? [String: Any])
    #expect(expectations["checked"] as? Int == 10)
    #expect((expectations["differences"] as? [Any])?.isEmpty == true)
  }

  @Test func rulelistOptionRunsEveryPacketThroughIt() throws {
    let r = try CLI.run([
      "test", Self.rules, "--pcap", Self.capture, "--rulelist", "my-udp-endpoint",
    ])
    #expect(r.status == 0, "\(r.stderr)")
    // The TCP SYN now goes through the UDP rulelist, and the catch-all drops it.
    let tcp = r.stdout.split(separator: "\n").first { $0.contains("TCP 10.0.0.7:40000") } ?? ""
    #expect(tcp.hasSuffix("  everything-else  drop"), "\(r.stdout)")
    let bad = try CLI.run(["test", Self.rules, "--pcap", Self.capture, "--rulelist", "nope"])
    #expect(bad.status == 2)
    #expect(
      bad.stderr.contains("no rulelist named 'nope'; the rulelists are my-udp-endpoint (UDP)"))
  }

  @Test func badInputsExitTwo() throws {
    let missing = try CLI.run(["test", Self.rules, "--pcap", "/nonexistent.pcap"])
    #expect(missing.status == 2)
    #expect(missing.stderr.contains("l7mp test: /nonexistent.pcap: no such file"))

    let notCapture = try CLI.run(["test", Self.rules, "--pcap", Self.rules])
    #expect(notCapture.status == 2)
    #expect(
      notCapture.stderr.contains("not a pcap or pcapng capture (it starts with 2f 2f 20 54"),
      "\(notCapture.stderr)")

    // The shipped capture cut in its last record: the frames before it are listed, then the error.
    let bytes = try Data(contentsOf: URL(fileURLWithPath: Self.capture))
    let cut = try CLI.temporaryFile("cut.pcap", "")
    try bytes.dropLast(10).write(to: URL(fileURLWithPath: cut))
    let truncated = try CLI.run(["test", Self.rules, "--pcap", cut])
    #expect(truncated.status == 2)
    #expect(truncated.stdout.contains("9 frames"), "\(truncated.stdout)")
    #expect(truncated.stderr.contains("damaged after frame 9"), "\(truncated.stderr)")

    let malformed = try CLI.temporaryFile("bad.yaml", #"{"expect": [{"frame": 1, "rlue": "sip"}]}"#)
    let m = try CLI.run(["test", Self.rules, "--pcap", Self.capture, "--expect", malformed])
    #expect(m.status == 2)
    #expect(
      m.stderr.contains("unknown key 'rlue' in expect[0]; did you mean 'rule'?"), "\(m.stderr)")

    let noExpect = try CLI.run([
      "test", Self.rules, "--pcap", Self.capture, "--expect", "/nonexistent.yaml",
    ])
    #expect(noExpect.status == 2)
    #expect(noExpect.stderr.contains("cannot read '/nonexistent.yaml': no such file"))

    let badRules = try CLI.run([
      "test", CLI.repo("examples/mistakes.rules"), "--pcap", Self.capture,
    ])
    #expect(badRules.status == 1)
    #expect(badRules.stderr.contains("error: unknown metadata field 'IP.src_adr'"))
  }

  /// The committed capture is what the committed script writes.
  @Test func shippedCaptureMatchesItsScript() throws {
    let out = try CLI.temporaryFile("regenerated.pcap", "")
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["python3", CLI.repo("examples/captures/make-gateway-pcap.py"), out]
    try p.run()
    p.waitUntilExit()
    #expect(p.terminationStatus == 0)
    let regenerated = try Data(contentsOf: URL(fileURLWithPath: out))
    #expect(regenerated == (try Data(contentsOf: URL(fileURLWithPath: Self.capture))))
  }
}
