import Benchmark
import CRDBridge
import CRDWorkloads
import Config

/// Issue 5's scale target: 1,000 VirtualServices with 10 rules each read, translate and compile in
/// a few seconds. "translate" is the whole bridge (`Bridge.translate`: YAML → manifests → rule source
/// per listener, checked and compiled → proxy configurations); "read YAML" is libyaml and the node
/// tree alone.
let benchmarks: @Sendable () -> Void = {
  Benchmark.defaultConfiguration = .init(
    metrics: [.wallClock, .cpuTotal, .mallocCountTotal, .peakMemoryResident],
    warmupIterations: 1,
    maxDuration: .seconds(5),
    maxIterations: 20
  )

  for count in [100, 1_000] {
    let workload = CRDScaleWorkload(virtualServices: count)
    let bytes = Array(workload.manifests().utf8)
    Benchmark("translate \(count) VirtualServices x 10 rules") { benchmark in
      for _ in benchmark.scaledIterations {
        let t = Bridge.translate([(name: "scale.yaml", bytes: bytes)])
        precondition(!t.diagnostics.hasErrors && t.listeners.count == count)
        blackHole(t)
      }
    }
    Benchmark("read YAML of \(count) VirtualServices x 10 rules") { benchmark in
      for _ in benchmark.scaledIterations {
        blackHole(try YAMLReader.documents(bytes, name: "scale.yaml"))
      }
    }
  }
}
