import CRDBridge
import Config
import Testing

/// Names, targets, selectors and proxy sets.
@Suite struct TargetResolutionTests {
  /// A gateway VirtualService in namespace `ns` whose one rule routes as `route` (flow YAML).
  func gateway(
    route: String, ns: String = "default",
    selector: String = "spec:\n  selector: {matchLabels: {app: gw}}\n"
  ) -> String {
    """
    apiVersion: l7mp.io/v1
    kind: VirtualService
    metadata: {name: gw, namespace: \(ns)}
    \(selector)  listener:
        name: in
        spec: {protocol: UDP, port: 9001}
        rules: {action: {route: \(route)}}
    ---
    apiVersion: v1
    kind: Pod
    metadata: {name: gw-0, namespace: \(ns), labels: {app: gw, tier: edge}}
    status: {podIP: 10.0.0.1}

    """
  }

  let workerService = """
    ---
    apiVersion: v1
    kind: Service
    metadata: {name: worker, namespace: default}
    spec:
      selector: {app: worker}
      clusterIP: 10.96.0.9
      ports: [{name: udp, port: 9999, targetPort: work, protocol: UDP}]
    ---
    apiVersion: v1
    kind: Pod
    metadata: {name: worker-0, labels: {app: worker}}
    spec: {containers: [{name: w, ports: [{name: work, containerPort: 7000}]}]}
    status: {podIP: 10.0.0.3}

    """

  func clusters(_ t: Translation) -> [ClusterConfig] { t.proxySets.first?.config.clusters ?? [] }

  @Test func kubernetesServiceWithNamedTargetPort() {
    let t = Fixture.translate(gateway(route: "{destination: worker}") + workerService)
    #expect(!t.diagnostics.hasErrors, "\(Fixture.messages(t))")
    #expect(
      clusters(t) == [
        ClusterConfig(
          name: "worker", spec: ClusterSpec(protocol: .udp),
          endpoints: [EndpointConfig(spec: EndpointSpec(address: "10.0.0.3", port: 7000))])
      ])
  }

  @Test func endpointSlicesWinOverPodsAndNotReadyOnesAreSkipped() {
    let slice = """
      ---
      apiVersion: discovery.k8s.io/v1
      kind: EndpointSlice
      metadata: {name: worker-x, labels: {kubernetes.io/service-name: worker}}
      ports: [{name: udp, port: 7001, protocol: UDP}]
      endpoints:
        - addresses: [10.0.1.1]
        - addresses: [10.0.1.2]
          conditions: {ready: false}

      """
    let t = Fixture.translate(gateway(route: "{destination: worker}") + workerService + slice)
    #expect(
      clusters(t).first?.endpoints == [
        EndpointConfig(spec: EndpointSpec(address: "10.0.1.1", port: 7001))
      ], "\(Fixture.messages(t))")
  }

  @Test func clusterIPWhenThereAreNoPods() {
    let service = workerService.replacingOccurrences(
      of: "selector: {app: worker}", with: "selector: {app: none}")
    let t = Fixture.translate(gateway(route: "{destination: worker}") + service)
    #expect(
      clusters(t).first?.endpoints.map(\.spec.address) == ["10.96.0.9"], "\(Fixture.messages(t))")
  }

  @Test func fullyQualifiedNamesAcrossNamespaces() {
    let other = """
      ---
      apiVersion: l7mp.io/v1
      kind: VirtualService
      metadata: {name: gw, namespace: edge}
      spec:
        selector: {matchLabels: {app: other}}
        listener: {spec: {protocol: TCP, port: 80}}
      ---
      apiVersion: v1
      kind: Pod
      metadata: {name: other-0, namespace: edge, labels: {app: other}}
      status: {podIP: 10.0.2.1}

      """
    let t = Fixture.translate(
      gateway(
        route:
          "{destination: gw.edge.virtualservice.cluster.local, ingress: [worker.default.svc.cluster.local]}"
      )
        + workerService + other)
    let source = t.listeners.first?.source ?? ""
    // 'gw' is used in two namespaces, so its clusters are qualified.
    #expect(source.contains("route to gw.edge via worker\n"), "\(source) \(Fixture.messages(t))")
    #expect(clusters(t).map(\.name).contains("gw.edge"))
    #expect(clusters(t).first { $0.name == "gw.edge" }?.spec.protocol == .tcp)
  }

  @Test func namedRouteObject() {
    let route = """
      ---
      apiVersion: l7mp.io/v1
      kind: Route
      metadata: {name: via-echo}
      spec:
        destination: worker
        ingress: [{name: tap, spec: {protocol: Echo}}]
        retry: {retry_on: connect-failure, num_retries: 3, timeout: 500}

      """
    let t = Fixture.translate(gateway(route: "via-echo") + workerService + route)
    let source = t.listeners.first?.source ?? ""
    #expect(
      source.contains(
        "route to worker via tap\n    with retry_on = \"connect-failure\", retries = 3, timeout = 500ms\n"
      ),
      "\(source) \(Fixture.messages(t))")
    #expect(!t.diagnostics.hasErrors, "\(Fixture.messages(t))")
  }

  @Test func selectorsByExpressionsAndByService() {
    let expressions = gateway(
      route: "{destination: {spec: {protocol: Discard}}}",
      selector:
        "spec:\n  selector: {matchExpressions: [{key: tier, operator: In, values: [edge]}, {key: canary, operator: DoesNotExist}]}\n"
    )
    #expect(Fixture.translate(expressions).proxySets.first?.pods.map(\.name) == ["gw-0"])
    let notIn = expressions.replacingOccurrences(of: "operator: In", with: "operator: NotIn")
    #expect(Fixture.translate(notIn).proxySets.isEmpty)
    // The seed's form: the selector under metadata, by Service name.
    let byService = """
      apiVersion: l7mp.io/v1
      kind: VirtualService
      metadata:
        name: gw
        selector: {serviceName: gwsvc, namespace: default}
      spec:
        listener: {spec: {protocol: UDP, port: 9001}, rules: {action: {route: {destination: {spec: {protocol: Discard}}}}}}
      ---
      apiVersion: v1
      kind: Service
      metadata: {name: gwsvc}
      spec: {selector: {app: gw}, ports: [{port: 1}]}
      ---
      apiVersion: v1
      kind: Pod
      metadata: {name: gw-0, labels: {app: gw}}
      status: {podIP: 10.0.0.1}
      """
    let t = Fixture.translate(byService)
    #expect(t.proxySets.first?.pods.map(\.ip) == ["10.0.0.1"], "\(Fixture.messages(t))")
  }

  @Test func stubWithoutServiceIsAnError() {
    let stub =
      "---\napiVersion: l7mp.io/v1\nkind: VirtualService\nmetadata: {name: lonely}\nspec: {selector: {matchLabels: {app: x}}}\n"
    let t = Fixture.translate(gateway(route: "{destination: lonely}") + stub)
    #expect(
      Fixture.messages(t).contains {
        $0.contains(
          "error: VirtualService 'lonely' has no listener, and no Kubernetes Service 'lonely'")
      }, "\(Fixture.messages(t))")
  }

  @Test func kindListIsRead() {
    let list = """
      apiVersion: v1
      kind: List
      items:
        - {apiVersion: v1, kind: Pod, metadata: {name: gw-0, labels: {app: gw}}, status: {podIP: 10.0.0.1}}
        - apiVersion: l7mp.io/v1
          kind: VirtualService
          metadata: {name: gw}
          spec:
            selector: {matchLabels: {app: gw}}
            listener: {spec: {protocol: UDP, port: 9001}, rules: {action: {route: {destination: {spec: {protocol: Echo}}}}}}
      """
    let t = Fixture.translate(list)
    #expect(t.proxySets.first?.config.listeners.map(\.name) == ["gw"], "\(Fixture.messages(t))")
  }
}

extension String {
  fileprivate func replacingOccurrences(of a: String, with b: String) -> String {
    split(separator: a, omittingEmptySubsequences: false).joined(separator: b)
  }
}
