# Sourced by ./ddpm and scripts/*: finds JDK 25 and Maven, or stops with one clear sentence.
# SPDX-License-Identifier: Apache-2.0

ddpm4j_java_major() { "$1/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p'; }

ddpm4j_find_jdk() {
  local c major
  for c in "${DDPM4J_JAVA_HOME:-}" "${JAVA_HOME:-}" /usr/lib/jvm/temurin-25-jdk-amd64 /usr/lib/jvm/temurin-25* \
           /usr/lib/jvm/java-25* /usr/lib/jvm/jdk-25* /opt/jdk-25* "$HOME"/.sdkman/candidates/java/25*; do
    [ -n "$c" ] && [ -x "$c/bin/java" ] && [ -x "$c/bin/javac" ] || continue
    major=$(ddpm4j_java_major "$c")
    if [ -n "$major" ] && [ "$major" -ge 25 ] 2>/dev/null; then echo "$c"; return 0; fi
  done
  return 1
}

if ! JAVA_HOME=$(ddpm4j_find_jdk); then
  echo "ddpm4j: no JDK 25 found (looked at \$DDPM4J_JAVA_HOME, \$JAVA_HOME and /usr/lib/jvm/*25*)." >&2
  echo "ddpm4j: install one (for example Temurin 25) and set JAVA_HOME to it; the default 'java' here is $(java -version 2>&1 | head -1)." >&2
  exit 1
fi
export JAVA_HOME
export PATH="$JAVA_HOME/bin:$PATH"

if ! command -v mvn >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "ddpm4j: Maven not found; installing Debian's maven package" >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq maven >/dev/null) || { echo "ddpm4j: could not install Maven" >&2; exit 1; }
  else
    echo "ddpm4j: Maven (mvn) not found on PATH; install Maven 3.8 or newer." >&2
    exit 1
  fi
fi
# Debian Maven's guava warns about sun.misc.Unsafe on JDK 25; the flag is JDK 25 only, so it lives here, not in .mvn/jvm.config.
export MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow"
# -Xmn64m: tensors live off-heap, so the Java heap only sees short-lived bookkeeping; ParallelGC's adaptive sizing
# otherwise grows the young generation to 0.5-1.5 GB of touched pages (peak RSS of a training step 1668 -> 977 MiB,
# sampling 946 -> 607 MiB) for about 14 ms more GC per 4-7 s training step (bench/RESULTS.md, peak memory). No -Xmx:
# data sets are held on the heap.
DDPM4J_JVM_FLAGS="--add-modules=jdk.incubator.vector --enable-native-access=ALL-UNNAMED -XX:+UseParallelGC -Xmn64m"
