package dev.coherence.neo4jharness;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import org.neo4j.configuration.GraphDatabaseInternalSettings;
import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.connectors.BoltConnectorInternalSettings;
import org.neo4j.configuration.connectors.HttpConnector;
import org.neo4j.configuration.connectors.HttpsConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.harness.Neo4j;
import org.neo4j.harness.Neo4jBuilder;
import org.neo4j.harness.Neo4jBuilders;

/**
 * Starts a real Neo4j 5.26 Community server in this JVM (Neo4j's test harness) for the project's tests.
 *
 * <p>Options (each also read from the environment variable in brackets; a flag beats the variable):
 *
 * <ul>
 *   <li>{@code --http-port N} [NEO4J_HTTP_PORT] HTTP connector (Query API) on 127.0.0.1:N; default 7474, 0 = any
 *       free port
 *   <li>{@code --bolt-port N} [NEO4J_BOLT_PORT] Bolt connector on 127.0.0.1:N; default 7687, 0 = any free port
 *   <li>{@code --data-dir PATH} [NEO4J_DATA_DIR] where the databases live ({@code PATH/store}, kept across
 *       restarts); the harness' own random working sub-directory in it is deleted on a clean shutdown
 *       (default: the JVM's temp directory, nothing kept)
 *   <li>{@code --user NAME} [NEO4J_USER] must be {@code neo4j} (Community has that one admin); default neo4j
 *   <li>{@code --password PW} [NEO4J_PASSWORD] the password set for that user; default {@code coherence-test}.
 *       {@code --no-auth} (or NEO4J_AUTH=none) turns authentication off instead
 *   <li>{@code --exit-on-stdin-close} shut down when standard input reaches end of file (the launching process
 *       went away), besides on SIGTERM / SIGINT
 * </ul>
 *
 * <p>Prints exactly one line on standard output once both connectors accept connections and the password is set:
 * {@code NEO4J_READY http://127.0.0.1:7474 bolt://127.0.0.1:7687}. Everything else goes to standard error or to
 * the harness' log files in the store directory.
 */
public final class Neo4jHarnessMain {
  private static final String HOST = "127.0.0.1";

  private Neo4jHarnessMain() {}

  public static void main(String[] args) throws Exception {
    Map<String, String> opts = parse(args);
    int httpPort = Integer.parseInt(opt(opts, "http-port", "NEO4J_HTTP_PORT", "7474"));
    int boltPort = Integer.parseInt(opt(opts, "bolt-port", "NEO4J_BOLT_PORT", "7687"));
    String dataDir = opt(opts, "data-dir", "NEO4J_DATA_DIR", null);
    String user = opt(opts, "user", "NEO4J_USER", "neo4j");
    String password = opt(opts, "password", "NEO4J_PASSWORD", "coherence-test");
    boolean auth = !opts.containsKey("no-auth") && !"none".equalsIgnoreCase(System.getenv("NEO4J_AUTH"));
    boolean exitOnStdinClose = opts.containsKey("exit-on-stdin-close");
    if (!"neo4j".equals(user)) {
      throw new IllegalArgumentException("Neo4j Community's admin user is 'neo4j'; got --user " + user);
    }
    if (auth && password.length() < 8) {
      throw new IllegalArgumentException("Neo4j requires passwords of at least 8 characters");
    }

    Neo4jBuilder builder =
        dataDir == null ? Neo4jBuilders.newInProcessBuilder() : Neo4jBuilders.newInProcessBuilder(Path.of(dataDir));
    if (dataDir != null) {
      // The harness' working directory is random and removed on shutdown; keep the databases themselves in a
      // fixed folder, so a restart on the same --data-dir sees the same data (outage tests need that).
      builder.withConfig(GraphDatabaseSettings.data_directory, Path.of(dataDir, "store").toAbsolutePath());
    }
    builder
        // Loopback only, for every connector and for what the server advertises.
        .withConfig(GraphDatabaseSettings.default_listen_address, new SocketAddress(HOST))
        .withConfig(GraphDatabaseSettings.default_advertised_address, new SocketAddress(HOST))
        .withConfig(HttpConnector.enabled, true)
        .withConfig(HttpConnector.listen_address, new SocketAddress(HOST, httpPort))
        .withConfig(HttpConnector.advertised_address, new SocketAddress(HOST, httpPort))
        .withConfig(HttpsConnector.enabled, false)
        .withConfig(BoltConnector.enabled, true)
        .withConfig(BoltConnector.listen_address, new SocketAddress(HOST, boltPort))
        .withConfig(BoltConnector.advertised_address, new SocketAddress(HOST, boltPort))
        .withConfig(BoltConnector.encryption_level, BoltConnector.EncryptionLevel.DISABLED)
        // No server-side routing connector (it would open a third port, 7688).
        .withConfig(GraphDatabaseSettings.routing_enabled, false)
        // No usage reporting / phoning home (the UDC module is also left off the classpath by pom.xml).
        .withConfig(GraphDatabaseSettings.udc_enabled, false)
        .withConfig(GraphDatabaseInternalSettings.udc_network_enabled, false)
        .withConfig(GraphDatabaseSettings.auth_enabled, auth)
        .withConfig(GraphDatabaseSettings.pagecache_memory, 64L * 1024 * 1024)
        // A test server: stop in a second or two instead of waiting up to ~15 s per thread pool for idle clients.
        .withConfig(GraphDatabaseSettings.shutdown_transaction_end_timeout, Duration.ofSeconds(2))
        .withConfig(GraphDatabaseInternalSettings.netty_server_shutdown_quiet_period, 0)
        .withConfig(GraphDatabaseInternalSettings.netty_server_shutdown_timeout, Duration.ofSeconds(2))
        .withConfig(BoltConnectorInternalSettings.thread_pool_shutdown_wait_time, Duration.ofSeconds(2))
        .withConfig(BoltConnectorInternalSettings.connection_shutdown_wait_time, Duration.ofSeconds(1));

    long started = System.nanoTime();
    Neo4j neo4j = builder.build();
    CountDownLatch stopped = new CountDownLatch(1);
    Thread hook =
        new Thread(
            () -> {
              try {
                System.err.println("[neo4j-harness] shutting down");
                neo4j.close();
              } catch (RuntimeException e) {
                System.err.println("[neo4j-harness] shutdown failed: " + e);
              } finally {
                stopped.countDown();
              }
            },
            "neo4j-harness-shutdown");
    Runtime.getRuntime().addShutdownHook(hook);

    if (auth) {
      // The harness' fresh system database has user neo4j with the default password, change required. Set ours
      // through the embedded API (it runs with full rights), so clients can log in straight away.
      try {
        neo4j
            .databaseManagementService()
            .database("system")
            .executeTransactionally(
                "ALTER USER neo4j SET PASSWORD $password CHANGE NOT REQUIRED", Map.of("password", password));
      } catch (RuntimeException e) {
        // A kept store already has our password ("old and new password cannot be the same"): nothing to do.
        if (!String.valueOf(e.getMessage()).contains("cannot be the same")) throw e;
      }
    }

    String httpUri = "http://" + neo4j.httpURI().getAuthority();
    String boltUri = "bolt://" + neo4j.boltURI().getAuthority();
    System.err.printf(
        "[neo4j-harness] Neo4j %s up in %d ms, auth %s%n",
        org.neo4j.kernel.internal.Version.getNeo4jVersion(),
        (System.nanoTime() - started) / 1_000_000,
        auth ? "on (user neo4j)" : "off");
    System.out.println("NEO4J_READY " + httpUri + " " + boltUri);
    System.out.flush();

    if (exitOnStdinClose) {
      Thread watcher =
          new Thread(
              () -> {
                try {
                  InputStream in = System.in;
                  byte[] buf = new byte[256];
                  while (in.read(buf) >= 0) {
                    // Ignore anything written; only end of file matters.
                  }
                } catch (IOException ignored) {
                  // Treat a broken stdin like end of file.
                }
                System.err.println("[neo4j-harness] stdin closed");
                System.exit(0);
              },
              "neo4j-harness-stdin");
      watcher.setDaemon(true);
      watcher.start();
    }
    stopped.await();
  }

  private static Map<String, String> parse(String[] args) {
    Map<String, String> opts = new HashMap<>();
    for (int i = 0; i < args.length; i++) {
      String arg = args[i];
      if (!arg.startsWith("--")) throw new IllegalArgumentException("unexpected argument: " + arg);
      String name = arg.substring(2);
      int eq = name.indexOf('=');
      if (eq >= 0) {
        opts.put(name.substring(0, eq), name.substring(eq + 1));
      } else if (name.equals("no-auth") || name.equals("exit-on-stdin-close")) {
        opts.put(name, "true");
      } else if (i + 1 < args.length) {
        opts.put(name, args[++i]);
      } else {
        throw new IllegalArgumentException("missing value for " + arg);
      }
    }
    return opts;
  }

  private static String opt(Map<String, String> opts, String name, String env, String fallback) {
    String value = opts.get(name);
    if (value == null) value = System.getenv(env);
    return value == null || value.isEmpty() ? fallback : value;
  }
}
