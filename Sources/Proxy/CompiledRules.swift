import Config
import Foundation
import Prometheus
import RuleLang
import Synchronization
import VM

/// One loaded rule source (`{name, source | file}`), compiled and verified, with a match counter
/// per rule. Immutable once built: a replacement is a new `CompiledRules`, and listeners switch to
/// it between two packets.
final class CompiledRules: Sendable {
  let config: RulelistConfig
  let source: SourceFile
  let program: VerifiedProgram
  let warnings: [Diagnostic]
  /// One per rule of the program, same order.
  let matches: RuleMatchCounts
  /// The same counts and the VM time of the packets each rule matched, for `/metrics`.
  private let matchCounters: [Counter]
  private let vmCounters: [Counter]

  private init(
    config: RulelistConfig, source: SourceFile, program: VerifiedProgram, warnings: [Diagnostic],
    metrics: ProxyMetrics
  ) {
    self.config = config
    self.source = source
    self.program = program
    self.warnings = warnings
    self.matches = RuleMatchCounts(count: program.program.rules.count)
    let p = program.program
    matchCounters = p.rules.map {
      metrics.ruleMatches(rulelist: p.rulelists[$0.rulelist].name, rule: $0.name)
    }
    vmCounters = p.rules.map {
      metrics.ruleVMSeconds(rulelist: p.rulelists[$0.rulelist].name, rule: $0.name)
    }
  }

  func recordMatch(_ rule: Int, vmSeconds: Double) {
    matches.record(rule)
    matchCounters[rule].increment()
    vmCounters[rule].increment(by: vmSeconds)
  }

  /// Checks, compiles and verifies; every error is the checker's diagnostics (nothing is loaded).
  /// `text` is the source (read from `config.file` by the caller when given as a path).
  static func compile(
    _ config: RulelistConfig, text: String, sourceName: String, metrics: ProxyMetrics
  ) throws(ControlError) -> CompiledRules {
    let source = SourceFile(name: sourceName, text: text)
    let checked = RuleChecker.check(source)
    if checked.hasErrors {
      throw .invalidRules(source: source, diagnostics: checked.diagnostics)
    }
    let program: Program
    switch RuleCompiler.compile(checked) {
    case .success(let p): program = p
    case .failure(let e): throw .invalidRules(source: source, diagnostics: e.diagnostics)
    }
    let verified: VerifiedProgram
    do {
      verified = try Verifier.verify(program)
    } catch {
      throw .failed("\(sourceName): the compiled program fails verification: \(error.description)")
    }
    return CompiledRules(
      config: config, source: source, program: verified,
      warnings: checked.diagnostics.filter { $0.severity != .error }, metrics: metrics)
  }

  /// The rulelists this source defines, by name.
  var rulelistNames: [String] { program.program.rulelists.map(\.name) }
}

/// Relaxed atomic counters, one per rule: listeners on every event loop add to them.
final class RuleMatchCounts: Sendable {
  private let counts: [AtomicCounter]

  init(count: Int) { counts = (0..<count).map { _ in AtomicCounter() } }

  func record(_ rule: Int) { counts[rule].add(1) }
  func value(_ rule: Int) -> UInt64 { counts[rule].value }
}

/// A counter any thread may add to.
final class AtomicCounter: Sendable {
  private let storage = Atomic<UInt64>(0)
  init() {}
  func add(_ n: UInt64) { storage.wrappingAdd(n, ordering: .relaxed) }
  var value: UInt64 { storage.load(ordering: .relaxed) }
}

/// What a listener runs per packet: a program and the index of its rulelist in it. Replaced as a
/// whole, so a packet sees either the old rules or the new ones, never a mix.
struct RulesSnapshot: Sendable {
  let rules: CompiledRules
  let rulelist: Int

  var program: VerifiedProgram { rules.program }
}
