import Foundation
import Testing

/// `l7mp eval` as a person runs it: rules, packet literals, verdicts, exit codes.
@Suite struct EvalCommandTests {
  static let gateway = CLI.repo("examples/gateway.rules")

  @Test func gatewayPacketsGetTheirRules() throws {
    let r = try CLI.run([
      "eval", Self.gateway,
      "--packet", #"udp 10.0.0.7:9001 -> 10.0.0.1:9001 payload "hello""#,
      "--packet", #"udp 192.168.1.5:5000 -> 10.0.0.1:5061 payload "INVITE sip:x SIP/2.0""#,
      "--packet",
      #"udp 10.0.0.9:4000 -> 10.0.0.1:7000 payload x"80 00 00 01 00 00 00 00 de ad be ef""#,
      "--packet", #"udp [2001:db8::1]:9001 -> [::1]:1"#,
    ])
    #expect(r.status == 0, "\(r.stderr)")
    let blocks = r.stdout.components(separatedBy: "\n\n")
    #expect(blocks.count == 4, "\(r.stdout)")
    #expect(
      blocks[0] == """
        packet: udp 10.0.0.7:9001 -> 10.0.0.1:9001 payload "hello"
          rule: from-gateway in rulelist my-udp-endpoint, line 6
          action: route to worker via transcoder with remove_orphan_sessions = true
          set HTTP.headers.id = 1
        """)
    #expect(blocks[1].contains("rule: sip in rulelist my-udp-endpoint, line 11"))
    #expect(
      blocks[1].contains(
        #"action: route to sip-proxy via transcoder, codec return via codec with retry_on = "connect-failure", retries = 3"#
      ))
    #expect(blocks[2].contains("rule: rtp in rulelist my-udp-endpoint, line 15"))
    #expect(blocks[2].contains("set labels.ssrc = 3735928559"))
    #expect(blocks[3].contains("rule: everything-else in rulelist my-udp-endpoint, line 19"))
    #expect(blocks[3].contains("action: drop"))
  }

  @Test func noMatchIsADrop() throws {
    let file = try CLI.temporaryFile(
      "one.rules",
      """
      rulelist only for UDP {
        rule dns when UDP.dst_port == 53 { route to resolver }
      }
      """)
    let r = try CLI.run(["eval", file, "--packet", "udp 10.0.0.1:5000 -> 10.0.0.2:54"])
    #expect(r.status == 0, "\(r.stderr)")
    #expect(
      r.stdout == """
        packet: udp 10.0.0.1:5000 -> 10.0.0.2:54
          rulelist: only
          no rule matched: dropped

        """)
  }

  static let mixed = """
    rulelist udp-in for UDP {
      rule any { route to udp-backend }
    }
    rulelist ws-in for WebSocket {
      rule api when HTTP.url.path starts "/api" and HTTP.headers.user-agent == "curl" {
        set labels.client = "curl"
        apply ws-more
      }
      rule other { drop }
    }
    rulelist ws-more for WebSocket {
      rule tagged when labels.client == "curl" { route to api-backend }
    }
    rulelist tcp-in for TCP {
      rule web when TCP.dst_port in {80, 443} { route to web }
    }
    """

  @Test func rulelistFollowsThePacketsProtocol() throws {
    let file = try CLI.temporaryFile("mixed.rules", Self.mixed)
    let r = try CLI.run([
      "eval", file,
      "--packet",
      #"ws 127.0.0.1:40000 -> 127.0.0.1:8888 GET /api/v1?x=1 headers {"User-Agent": "curl"} payload "hi""#,
      "--packet", "tcp 10.0.0.1:40000 -> 10.0.0.2:443",
      "--packet", "udp 10.0.0.1:1 -> 10.0.0.2:2",
    ])
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.stdout.contains("rule: tagged in rulelist ws-more, line 12 (via rulelist ws-in)"))
    #expect(r.stdout.contains("action: route to api-backend"))
    #expect(r.stdout.contains(#"set labels.client = "curl""#))
    #expect(r.stdout.contains("rule: web in rulelist tcp-in, line 15"))
    #expect(r.stdout.contains("rule: any in rulelist udp-in, line 2"))
  }

  @Test func rulelistOptionAndItsErrors() throws {
    let file = try CLI.temporaryFile("mixed.rules", Self.mixed)
    let chosen = try CLI.run([
      "eval", file, "--rulelist", "ws-more", "--packet",
      #"ws 1.1.1.1:1 -> 2.2.2.2:2 labels {client: "curl"}"#,
    ])
    #expect(chosen.status == 0, "\(chosen.stderr)")
    #expect(chosen.stdout.contains("rule: tagged in rulelist ws-more"))
    let unknown = try CLI.run([
      "eval", file, "--rulelist", "nope", "--packet", "tcp 1.1.1.1:1 -> 2.2.2.2:2",
    ])
    #expect(unknown.status == 2)
    #expect(
      unknown.stderr.contains(
        "no rulelist named 'nope'; the rulelists are udp-in (UDP), ws-in (WebSocket), ws-more (WebSocket), tcp-in (TCP)"
      ))
    let none = try CLI.run(["eval", file, "--packet", "uds /tmp/x.sock"])
    #expect(none.status == 2)
    #expect(
      none.stderr.contains(
        "no rulelist for UnixDomainSocket (packet 1); choose one with --rulelist"))
    let mismatch = try CLI.run([
      "eval", file, "--rulelist", "udp-in", "--packet", "tcp 1.1.1.1:1 -> 2.2.2.2:2",
    ])
    #expect(mismatch.status == 0)
    #expect(mismatch.stderr.contains("warning: packet 1 is TCP but rulelist 'udp-in' is for UDP"))
  }

  @Test func badPacketLiteralIsAUsageErrorWithACaret() throws {
    let r = try CLI.run([
      "eval", Self.gateway, "--packet", "udp 10.0.0.1:1 -> 10.0.0.2:53",
      "--packet", #"udp 10.0.0.1 -> 10.0.0.2:53 payload "x""#,
    ])
    #expect(r.status == 2)
    #expect(r.stdout.isEmpty)
    #expect(
      r.stderr == """
        l7mp eval: error: --packet 2: expected ':PORT' after the source address, e.g. 10.0.0.1:5000 or [::1]:5000
          udp 10.0.0.1 -> 10.0.0.2:53 payload "x"
                      ^

        """)
    let ipv6 = try CLI.run(["eval", Self.gateway, "--packet", "udp ::1:53 -> [::1]:53"])
    #expect(ipv6.status == 2)
    #expect(ipv6.stderr.contains("write IPv6 endpoints in brackets, e.g. [::1]:5000\n"))
    #expect(ipv6.stderr.contains("\n      ^~~~~~\n"))
    let proto = try CLI.run(["eval", Self.gateway, "--packet", "sctp 1.1.1.1:1 -> 2.2.2.2:2"])
    #expect(proto.status == 2)
    #expect(proto.stderr.contains("unknown protocol 'sctp'"))
    #expect(proto.stderr.contains("udp SRC:PORT -> DST:PORT"))
  }

  @Test func ruleErrorsAreExitOne() throws {
    let r = try CLI.run([
      "eval", CLI.repo("examples/mistakes.rules"), "--packet", "udp 1.1.1.1:1 -> 2.2.2.2:2",
    ])
    #expect(r.status == 1)
    #expect(r.stderr.contains("error: unknown metadata field 'IP.src_adr'"))
  }

  @Test func usageErrors() throws {
    let none = try CLI.run(["eval", Self.gateway])
    #expect(none.status == 2)
    #expect(none.stderr.contains("give at least one --packet"))
    let missing = try CLI.run([
      "eval", "/nonexistent.rules", "--packet", "udp 1.1.1.1:1 -> 2.2.2.2:2",
    ])
    #expect(missing.status == 2)
    let format = try CLI.run([
      "eval", Self.gateway, "--format", "xml", "--packet", "udp 1.1.1.1:1 -> 2.2.2.2:2",
    ])
    #expect(format.status == 2)
  }

  @Test func jsonFormat() throws {
    let r = try CLI.run([
      "eval", Self.gateway, "--format", "json",
      "--packet", #"udp 10.0.0.7:9001 -> 10.0.0.1:9001 payload "hello""#,
      "--packet",
      #"udp 10.0.0.9:4000 -> 10.0.0.1:7000 payload x"80 00 00 01 00 00 00 00 de ad be ef""#,
    ])
    #expect(r.status == 0, "\(r.stderr)")
    let items = try #require(
      JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]])
    #expect(items.count == 2)
    let rule = try #require(items[0]["rule"] as? [String: Any])
    #expect(rule["name"] as? String == "from-gateway")
    #expect(rule["line"] as? Int == 6)
    #expect(items[0]["verdict"] as? String == "route")
    let route = try #require(items[0]["route"] as? [String: Any])
    #expect(route["destination"] as? String == "worker")
    #expect(route["via"] as? [String] == ["transcoder"])
    #expect(route["removeOrphanSessions"] as? Bool == true)
    let rewrite = try #require((items[0]["rewrites"] as? [[String: Any]])?.first)
    #expect(rewrite["path"] as? String == "HTTP.headers.id")
    #expect(rewrite["kind"] as? String == "int")
    #expect(rewrite["value"] as? Int == 1)
    let ssrc = try #require((items[1]["rewrites"] as? [[String: Any]])?.first)
    #expect(ssrc["value"] as? Int == 0xDEAD_BEEF)
  }

  @Test func compiledProgramsWork() throws {
    let out = FileManager.default.temporaryDirectory.appendingPathComponent(
      "l7mp-eval-\(UUID().uuidString).l7b"
    ).path
    let c = try CLI.run(["compile", Self.gateway, "-o", out])
    #expect(c.status == 0, "\(c.stderr)")
    let r = try CLI.run(["eval", out, "--packet", #"udp 10.0.0.7:9001 -> 10.0.0.1:9001"#])
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.stdout.contains("rule: from-gateway in rulelist my-udp-endpoint, line 6"))
  }

  @Test func helpDescribesPackets() throws {
    let r = try CLI.run(["eval", "--help"])
    #expect(r.status == 0)
    for text in [
      "--packet", "--rulelist", "--format", "uds /var/run/sock/uds-echo.sock", "Exit status",
    ] {
      #expect(r.stdout.contains(text), "eval --help lacks \(text)")
    }
  }
}
