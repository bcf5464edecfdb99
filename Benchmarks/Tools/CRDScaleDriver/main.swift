import CRDBridge
import CRDWorkloads

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// One run of the CRD bridge's scale workload, for profilers (callgrind, perf):
///
///     CRDScaleDriver N            translate N VirtualServices x 10 rules once
///     CRDScaleDriver N --write F  write the manifests to F instead (for `l7mp crd validate F`)

let arguments = CommandLine.arguments
guard arguments.count == 2 || (arguments.count == 4 && arguments[2] == "--write"),
  let n = Int(arguments[1]), n > 0
else {
  print("usage: CRDScaleDriver N [--write FILE]")
  exit(2)
}
let text = CRDScaleWorkload(virtualServices: n).manifests()
if arguments.count == 4 {
  guard let f = fopen(arguments[3], "w") else {
    print("cannot write \(arguments[3])")
    exit(2)
  }
  fputs(text, f)
  fclose(f)
  exit(0)
}
let t = Bridge.translate([(name: "scale.yaml", bytes: Array(text.utf8))])
let compiled = t.listeners.count { $0.source != nil }
print(
  "\(t.listeners.count) listeners, \(compiled) compiled, \(t.proxySets.count) proxy sets, \(t.diagnostics.errorCount) errors, \(t.diagnostics.warningCount) warnings"
)
for d in t.diagnostics.all.prefix(5) { print(d) }
exit(t.diagnostics.hasErrors ? 1 : 0)
