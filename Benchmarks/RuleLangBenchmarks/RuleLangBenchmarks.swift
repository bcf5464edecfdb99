import Benchmark
import RuleLang

/// Front-end speed: lexing, parsing and checking rule files of growing size. The compile-time target
/// of issue 3 (10,000 rules in under a second) builds on these numbers.
let benchmarks: @Sendable () -> Void = {
  Benchmark.defaultConfiguration = .init(
    metrics: [.wallClock, .cpuTotal, .mallocCountTotal, .peakMemoryResident],
    warmupIterations: 1,
    maxDuration: .seconds(3),
    maxIterations: 1_000
  )

  let design = RuleSources.design
  Benchmark("check DESIGN.md example") { benchmark in
    for _ in benchmark.scaledIterations {
      blackHole(RuleChecker.check(text: design, name: "gateway.rules"))
    }
  }

  for count in [10, 1_000, 10_000] {
    let source = RuleSources.indexable(count)
    Benchmark(
      "check \(count) rules", configuration: .init(maxIterations: count >= 10_000 ? 20 : 200)
    ) {
      benchmark in
      for _ in benchmark.scaledIterations {
        blackHole(RuleChecker.check(text: source, name: "generated.rules"))
      }
    }
  }

  let big = RuleSources.indexable(10_000)
  Benchmark("lex 10000 rules", configuration: .init(maxIterations: 50)) { benchmark in
    for _ in benchmark.scaledIterations {
      blackHole(Lexer.tokenize(SourceFile(name: "generated.rules", text: big)).tokens.count)
    }
  }
}

enum RuleSources {
  static let design = """
    const gateway_net = 10.0.0.0/24
    const sip_ports   = {5060, 5061}

    rulelist my-udp-endpoint for UDP {
      rule from-gateway when IP.src_addr starts "10.0.0" and UDP.src_port == 9001 {
        set HTTP.headers.id = 1
        route to worker via transcoder
        with remove_orphan_sessions = true
      }
      rule sip when UDP.dst_port in sip_ports and payload starts "INVITE " {
        route to sip-proxy via transcoder, codec return via codec
        with retry_on = "connect-failure", retries = 3, timeout = 2s
      }
      rule rtp when IP.src_addr in gateway_net and payload[0] & 0xc0 == 0x80 and len(payload) >= 12 {
        set labels.ssrc = u32(payload, 8)
        route to media
      }
      rule everything-else {
        drop
      }
    }
    """

  /// `count` rules that test exact ports, CIDRs and prefixes: the shapes the compiler indexes.
  static func indexable(_ count: Int) -> String {
    var out = "rulelist generated for UDP {\n"
    for i in 0..<count {
      switch i % 3 {
      case 0:
        out +=
          "  rule port-\(i) when UDP.dst_port == \(1024 + i % 60_000) { route to c\(i % 17) }\n"
      case 1:
        out +=
          "  rule net-\(i) when IP.src_addr in 10.\(i / 65_536 % 256).\(i / 256 % 256).\(i % 256)/32 { route to c\(i % 17) }\n"
      default:
        out += "  rule sig-\(i) when payload starts \"SIG\(i)\" { route to c\(i % 17) }\n"
      }
    }
    return out + "  rule rest { drop }\n}\n"
  }
}
