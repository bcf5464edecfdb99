import RuleLang
import VMWorkloads

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Evaluates N packets of one benchmark case, for Benchmarks/callgrind.sh: run under
/// `valgrind --tool=callgrind --toggle-collect=…measured…` with N and 2N, the
/// difference of the two instruction counts over N is the cost of one evaluation, free of setup.
///
///     VMCallgrind CASE N      (CASE: one of `VMCallgrind --list`)
///     VMCallgrind --describe  (the rules' bytecode and the filters' BPF)

nonisolated(unsafe) var selected: Case? = nil

/// The measured region. callgrind.sh names it by its mangled name, `$s11VMCallgrind8measuredyS2iF`
/// (`VMCallgrind.measured(_: Int) -> Int`): keep the signature.
@inline(never)
func measured(_ n: Int) -> Int { selected!.run(0..<n) }

let arguments = CommandLine.arguments
if arguments.count == 2 && arguments[1] == "--list" {
  for name in CaseBuilder.allNames { print(name) }
  exit(0)
}
if arguments.count == 2 && arguments[1] == "--describe" {
  // What is measured: the rules as bytecode, the filters as BPF (as `tcpdump -d` prints them).
  for (source, filter) in [
    (Workloads.seedRule, Workloads.seedFilter), (Workloads.tenRule, Workloads.tenFilter),
  ] {
    print(Disassembler.listing(Workloads.compile(source, name: "bench.rules").program))
    let bpf = BPFFilter(filter)
    print("; BPF for \"\(filter)\": \(bpf.length) instructions")
    for line in bpf.listing { print(line) }
    print()
  }
  exit(0)
}
guard arguments.count == 3, let n = Int(arguments[2]), n > 0,
  let c = CaseBuilder().make(arguments[1])
else {
  print("usage: VMCallgrind CASE N   (VMCallgrind --list names the cases)")
  exit(2)
}
c.check()
selected = c
print("\(c.name) \(n) checksum \(measured(n))")
