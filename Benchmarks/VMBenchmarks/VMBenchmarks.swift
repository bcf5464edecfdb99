import Benchmark
import RuleLang
import VM
import VMWorkloads

/// Issue 3's benchmarks: the VM beside libpcap's BPF and the AST-walking reference evaluator, on
/// the same packets (see VMWorkloads for the rules, filters and packet sets, and
/// docs/performance.md for the results). Every case evaluates 1,000 packets per measured
/// iteration (`scalingFactor: .kilo`), so times and counts read per evaluation.
let benchmarks: @Sendable () -> Void = {
  Benchmark.defaultConfiguration = .init(
    // (ARC counts need the benchmark package's RuntimeInterposer trait, not available offline;
    // Benchmarks/callgrind.sh counts swift_retain/swift_release calls instead.)
    metrics: [.wallClock, .mallocCountTotal],
    warmupIterations: 10,
    scalingFactor: .kilo,
    maxDuration: .seconds(2),
    maxIterations: 100_000
  )

  // Each benchmark runs in its own process: build only the selected case, in `setup`.
  let builder = CaseBuilder()
  for name in CaseBuilder.allNames {
    Benchmark(name) { benchmark, c in
      blackHole(c.run(benchmark.scaledIterations))
    } setup: {
      guard let c = builder.make(name) else { fatalError("no case \(name)") }
      c.check()  // the verdicts are the expected ones (BPF and VM agree) before timing
      return c
    }
  }

  // Compiling 10,000 indexable rules: check + compile + verify, as `l7mp compile` does, and the
  // compile + verify part alone.
  let source = Workloads.indexableRules(10_000)
  let once = Benchmark.Configuration(
    metrics: [.wallClock, .mallocCountTotal, .peakMemoryResident],
    warmupIterations: 1, scalingFactor: .one, maxDuration: .seconds(10), maxIterations: 10)
  Benchmark("compile-10000-rules", configuration: once) { benchmark in
    for _ in benchmark.scaledIterations {
      blackHole(Workloads.compile(source, name: "generated.rules"))
    }
  }
  Benchmark("compile-10000-rules-codegen-only", configuration: once) { benchmark, checked in
    for _ in benchmark.scaledIterations {
      guard case .success(let p) = RuleCompiler.compile(checked) else { fatalError() }
      blackHole(try? Verifier.verify(p))
    }
  } setup: {
    Workloads.check(source, name: "generated.rules")
  }
}
