// swift-tools-version: 6.1
import PackageDescription

import class Foundation.ProcessInfo

// The benchmarks (ordo-one/benchmark) are only part of the package when `make bench` asks for them
// (L7MP_BENCHMARKS=1), so `make build` and `make test` neither resolve nor build them.
let withBenchmarks = ProcessInfo.processInfo.environment["L7MP_BENCHMARKS"] != nil

// The per-packet targets (rules, VM, data plane) skip the run-time exclusivity checks in release
// builds: they cost about a tenth of the proxy's user time per datagram (measured with perf). Debug
// builds, which every test runs, keep them, so a violation is still caught there.
let perPacketSettings: [SwiftSetting] = [
  .unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))
]

let package = Package(
  name: "l7mp",
  platforms: [.macOS(.v14)],
  products: [
    .executable(name: "l7mp", targets: ["l7mp"]),
    .library(name: "RuleLang", targets: ["RuleLang"]),
    .library(name: "VM", targets: ["VM"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
    .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
    .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
    .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
    .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
  ],
  targets: [
    // System libraries (Debian: libyaml-dev, libedit-dev, libpcap-dev; `make deps` installs them).
    .systemLibrary(name: "CLibYAML", pkgConfig: "yaml-0.1", providers: [.apt(["libyaml-dev"])]),
    .systemLibrary(name: "CLibEdit", pkgConfig: "libedit", providers: [.apt(["libedit-dev"])]),
    .target(
      name: "CLibEditShim",
      dependencies: ["CLibEdit"],
      linkerSettings: [.linkedLibrary("edit")]
    ),
    .systemLibrary(name: "CPcap", providers: [.apt(["libpcap-dev"])]),
    // Linux socket calls for the proxy's channel-less upstream UDP sockets (signal-driven
    // readiness, recvmmsg/sendmmsg batches) that Swift cannot make directly.
    .target(name: "CSystemShim"),

    // The rule language: lexer, parser, checker, (later) bytecode compiler.
    .target(name: "RuleLang", swiftSettings: perPacketSettings),
    // Load-time verifier and per-packet interpreter: no I/O.
    .target(name: "VM", dependencies: ["RuleLang"], swiftSettings: perPacketSettings),
    // The configuration objects (listeners, clusters, rulelists; l7mp's shapes) and the YAML/JSON
    // document tree they are read from. Shared by Proxy (config file, control API) and CRDBridge
    // (which produces them), so that neither depends on the other.
    .target(name: "Config", dependencies: ["CLibYAML"]),
    // Data plane and control API.
    .target(
      name: "Proxy",
      dependencies: [
        "RuleLang", "VM", "Config", "CSystemShim",
        .product(name: "Logging", package: "swift-log"),
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOPosix", package: "swift-nio"),
        .product(name: "NIOHTTP1", package: "swift-nio"),
        .product(name: "NIOWebSocket", package: "swift-nio"),
        .product(name: "Hummingbird", package: "hummingbird"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        .product(name: "Metrics", package: "swift-metrics"),
        .product(name: "Prometheus", package: "swift-prometheus"),
      ],
      swiftSettings: perPacketSettings
    ),
    // A client of the control API (NIOHTTP1), for the CRD bridge's reconciler.
    .target(
      name: "ControlClient",
      dependencies: [
        "Config",
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOPosix", package: "swift-nio"),
        .product(name: "NIOHTTP1", package: "swift-nio"),
      ]
    ),
    // Interactive prompt and capture reading.
    .target(
      name: "Repl",
      dependencies: [
        "RuleLang", "VM", "CLibEditShim", "CPcap", .product(name: "Logging", package: "swift-log"),
      ]
    ),
    // VirtualService / Route resources to rules and proxy configuration.
    .target(
      name: "CRDBridge",
      dependencies: [
        "RuleLang", "Config", "ControlClient", "CLibYAML",
        .product(name: "Logging", package: "swift-log"),
        // Kubernetes list + watch and the proxies' control APIs: HTTP/1.1 and TLS.
        .product(name: "AsyncHTTPClient", package: "async-http-client"),
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOHTTP1", package: "swift-nio"),
        .product(name: "NIOSSL", package: "swift-nio-ssl"),
      ]
    ),
    // The CRD bridge's scale workload (issue 5), shared by CRDBridgeTests and CRDBridgeBenchmarks.
    .target(name: "CRDWorkloads", path: "Benchmarks/CRDWorkloads"),
    .executableTarget(
      name: "l7mp",
      dependencies: [
        "RuleLang", "VM", "Config", "Proxy", "Repl", "CRDBridge",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
        .product(name: "Logging", package: "swift-log"),
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOPosix", package: "swift-nio"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
      ]
    ),

    .testTarget(
      name: "RuleLangTests", dependencies: ["RuleLang"],
      resources: [.copy("cases"), .copy("golden")]),
    .testTarget(name: "VMTests", dependencies: ["VM", "RuleLang"]),
    .testTarget(name: "ReplTests", dependencies: ["Repl"]),
    .testTarget(
      name: "CRDBridgeTests",
      dependencies: [
        "CRDBridge", "Config", "RuleLang", "Proxy", "CRDWorkloads",
        .product(name: "Logging", package: "swift-log"),
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOPosix", package: "swift-nio"),
        .product(name: "NIOHTTP1", package: "swift-nio"),
        .product(name: "NIOSSL", package: "swift-nio-ssl"),
      ],
      resources: [.copy("Fixtures")]
    ),
    .testTarget(name: "ConfigTests", dependencies: ["Config"]),
    .testTarget(
      name: "ProxyTests",
      dependencies: [
        "Proxy", "Config", "RuleLang", "VM", "ControlClient", "CSystemShim", "TestSupport",
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOEmbedded", package: "swift-nio"),
        .product(name: "NIOPosix", package: "swift-nio"),
        .product(name: "HummingbirdTesting", package: "hummingbird"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
      ]
    ),
    .testTarget(name: "EndToEndTests", dependencies: ["RuleLang", "l7mp", "TestSupport"]),
    // Helpers shared by the test targets (free loopback ports).
    .target(name: "TestSupport", path: "Tests/TestSupport"),
  ]
)

if withBenchmarks {
  package.dependencies.append(
    .package(
      url: "https://github.com/ordo-one/benchmark", from: "1.38.0", traits: ["MallocInterposer"])
  )
  package.targets.append(
    .executableTarget(
      name: "RuleLangBenchmarks",
      dependencies: ["RuleLang", .product(name: "Benchmark", package: "benchmark")],
      path: "Benchmarks/RuleLangBenchmarks",
      plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
    )
  )
  // The VM against libpcap's BPF (issue 3). VMWorkloads holds the packets, rules and filters that
  // both the benchmarks and the callgrind driver use; VMCallgrind is not a benchmark target (the
  // plugin runs every executable directly under Benchmarks/), Benchmarks/callgrind.sh runs it.
  package.targets += [
    .target(
      name: "VMWorkloads",
      dependencies: ["RuleLang", "VM", "Repl", "CPcap"],
      path: "Benchmarks/VMWorkloads"
    ),
    .executableTarget(
      name: "VMBenchmarks",
      dependencies: [
        "RuleLang", "VM", "Repl", "CPcap", "VMWorkloads",
        .product(name: "Benchmark", package: "benchmark"),
      ],
      path: "Benchmarks/VMBenchmarks",
      plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
    ),
    .executableTarget(
      name: "VMCallgrind",
      dependencies: ["RuleLang", "VM", "Repl", "CPcap", "VMWorkloads"],
      path: "Benchmarks/Tools/VMCallgrind"
    ),
  ]
  // The CRD bridge at scale (issue 5): reading, translating and compiling 1,000 VirtualServices.
  // CRDScaleDriver (not a benchmark target) writes the workload and runs it once, for profilers.
  package.targets += [
    .executableTarget(
      name: "CRDBridgeBenchmarks",
      dependencies: [
        "CRDBridge", "Config", "CRDWorkloads", .product(name: "Benchmark", package: "benchmark"),
      ],
      path: "Benchmarks/CRDBridgeBenchmarks",
      plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
    ),
    .executableTarget(
      name: "CRDScaleDriver",
      dependencies: ["CRDBridge", "CRDWorkloads"],
      path: "Benchmarks/Tools/CRDScaleDriver"
    ),
  ]
}
