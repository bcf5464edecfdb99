import Logging

/// Keeps one collection (VirtualServices, Routes, Services, EndpointSlices, Pods) in step with the
/// API server: LIST (in pages), then WATCH from the list's resourceVersion with bookmarks, resuming
/// from the latest resourceVersion when a watch ends or drops, listing again on 410 Gone, and backing
/// off (exponential, capped, jittered) on errors. What it sees comes out as `ResourceChange`s.
public struct ResourceWatcher: Sendable {
  public struct Options: Sendable {
    /// Objects per LIST page (`limit`).
    public var pageSize: Int = 500
    /// The server-side watch timeout is drawn from this range for every watch, so that many
    /// watchers do not reconnect together (client-go uses 5 to 10 minutes).
    public var watchTimeoutSeconds: ClosedRange<Int> = 300...600
    public var backoff = RetryBackoff()
    public init() {}
  }

  public let client: KubernetesClient
  public let resource: KubernetesResource
  public var options: Options
  let logger: Logger

  public init(
    client: KubernetesClient, resource: KubernetesResource, options: Options = Options(),
    logger: Logger? = nil
  ) {
    self.client = client
    self.resource = resource
    self.options = options
    var l = logger ?? client.logger
    l[metadataKey: "resource"] = "\(resource.path)"
    self.logger = l
  }

  /// The changes, from a first `.resynced` on. Ending the iteration (or cancelling the task that
  /// iterates) stops the watcher.
  public func changes() -> AsyncStream<ResourceChange> {
    let (stream, continuation) = AsyncStream.makeStream(of: ResourceChange.self)
    let task = Task {
      await self.run { continuation.yield($0) }
      continuation.finish()
    }
    continuation.onTermination = { _ in task.cancel() }
    return stream
  }

  /// Watches until the task is cancelled, calling `onChange` for every change in order.
  public func run(_ onChange: (ResourceChange) async -> Void) async {
    // nil: the next step is a LIST (first start, or after 410 Gone).
    var resourceVersion: String?
    var failures = 0
    while !Task.isCancelled {
      if failures > 0 {
        let delay = options.backoff.delay(failures: failures)
        logger.debug("retrying in \(delay) (failure \(failures) in a row)")
        do { try await Task.sleep(for: delay) } catch { return }
      }
      guard let from = resourceVersion else {
        do {
          let (items, rv) = try await listAll()
          if Task.isCancelled { return }
          logger.info("listed \(items.count) objects at resourceVersion \(rv)")
          await onChange(.resynced(items))
          resourceVersion = rv
        } catch {
          if Task.isCancelled { return }
          failures += 1
          logger.warning("list of \(resource) failed: \(error)")
        }
        continue
      }

      var latest = from
      var progressed = false
      var stop: KubernetesAPIError?
      do throws(KubernetesAPIError) {
        try await client.watch(
          resource, from: from, timeoutSeconds: Int.random(in: options.watchTimeoutSeconds)
        ) { event throws(KubernetesAPIError) in
          let change: ResourceChange
          let rv: String
          switch event {
          case .added(let o): (change, rv) = (.added(o), o.resourceVersion)
          case .modified(let o): (change, rv) = (.modified(o), o.resourceVersion)
          case .deleted(let o): (change, rv) = (.deleted(o), o.resourceVersion)
          case .bookmark(let bookmark):
            latest = bookmark
            progressed = true
            return !Task.isCancelled
          case .error(let status):
            stop = .watchError(status)
            return false
          }
          if !rv.isEmpty { latest = rv }
          progressed = true
          await onChange(change)
          return !Task.isCancelled
        }
        if let stop { throw stop }
        // The server ended the watch (its timeoutSeconds): resume where it stopped. A stream that
        // ended without a single event counts as a failure, so a server closing at once is not
        // hammered.
        resourceVersion = latest
        failures = progressed ? 0 : failures + 1
        logger.debug("watch ended at resourceVersion \(latest); resuming")
      } catch {
        if Task.isCancelled { return }
        failures = progressed ? 1 : failures + 1
        if error.isGone {
          // The history no longer reaches `latest`: only a new LIST can tell what changed.
          logger.info("watch from resourceVersion \(latest) expired (410 Gone); listing again")
          resourceVersion = nil
          if progressed { failures = 0 }
        } else {
          logger.warning("watch of \(resource) failed at resourceVersion \(latest): \(error)")
          resourceVersion = latest
        }
      }
    }
  }

  /// Every page of a LIST; the resourceVersion is the list's (all pages of one list share it).
  func listAll() async throws(KubernetesAPIError) -> ([KubernetesObject], String) {
    var items: [KubernetesObject] = []
    var token: String?
    var resourceVersion = ""
    repeat {
      let page = try await client.listPage(
        resource, limit: options.pageSize, continueToken: token)
      items += page.items
      resourceVersion = page.resourceVersion
      token = page.continueToken
    } while token != nil && !Task.isCancelled
    return (items, resourceVersion)
  }
}
