import CRDBridge
import CRDWorkloads
import Testing

/// The scale workload of issue 5 (its timing is in Benchmarks/CRDBridgeBenchmarks): every
/// VirtualService translates without findings, every rule reaches the compiled source, and the
/// pods are grouped into the proxy sets the selectors describe.
@Suite struct ScaleWorkloadTests {
  @Test func workloadTranslatesAndCompiles() {
    let w = CRDScaleWorkload(virtualServices: 100)
    let t = Fixture.translate([("scale.yaml", w.manifests())])
    #expect(Fixture.messages(t) == [])
    #expect(t.listeners.count == w.virtualServices)
    let sources = t.listeners.compactMap(\.source)
    #expect(sources.count == w.virtualServices)
    let rules = sources.reduce(0) { n, s in
      n + s.split(separator: "\n").count { $0.hasPrefix("  rule ") }
    }
    #expect(rules == w.ruleCount)
    // Every match form made it into the source: a nested `or` inside `and` is parenthesized.
    #expect(sources.first?.contains("UDP.src_port > 1030 and (UDP.dst_port == 1030 or") == true)
    #expect(t.proxySets.count == w.gatewayGroups)
    #expect(
      t.proxySets.allSatisfy { $0.config.listeners.count == w.virtualServices / w.gatewayGroups })
    #expect(
      t.proxySets.allSatisfy { $0.config.rulelists.count == w.virtualServices / w.gatewayGroups })
  }
}
