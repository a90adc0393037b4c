#!/usr/bin/env bash
# Entry point of the compose `kafka` service (apache/kafka image): a single-node KRaft
# broker whose client listener requires SASL/SCRAM-SHA-512.
#
# 1. Writes the broker properties from the KAFKA_* environment, with the image's naming
#    rule (KAFKA_ dropped, lower case, "___" -> "-", "__" -> "_", "_" -> ".").
# 2. Formats the storage on first start, adding the SCRAM credential of the client user
#    (SCRAM_USERNAME / SCRAM_PASSWORD): in KRaft mode SCRAM users live in the metadata
#    log, so the first one is created with the storage.  Later starts keep the storage
#    (--ignore-formatted); change a password with kafka-configs.sh --alter
#    --add-config 'SCRAM-SHA-512=[password=...]' --entity-type users --entity-name NAME.
# 3. Starts the broker.
set -euo pipefail

: "${CLUSTER_ID:?set CLUSTER_ID}"
: "${SCRAM_USERNAME:?set SCRAM_USERNAME (KAFKA_SASL_USERNAME in .env)}"
: "${SCRAM_PASSWORD:?set SCRAM_PASSWORD (KAFKA_SASL_PASSWORD in .env)}"
if [[ ! "$SCRAM_USERNAME$SCRAM_PASSWORD" =~ ^[A-Za-z0-9._~-]+$ ]]; then
  echo "KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD may use letters, digits and . _ ~ - only" >&2
  exit 1
fi

props="${SENDWATCH_KAFKA_PROPERTIES:-/tmp/sendwatch-kafka.properties}"
: > "$props"
for name in $(compgen -e); do
  case "$name" in
    KAFKA_HEAP_OPTS | KAFKA_OPTS | KAFKA_LOG4J_OPTS | KAFKA_GC_LOG_OPTS | KAFKA_JMX_* | KAFKA_JVM_*) ;;
    KAFKA_*)
      key="${name#KAFKA_}"
      key="${key,,}"
      key="${key//___/-}"
      key="${key//__/@}"
      key="${key//_/.}"
      key="${key//@/_}"
      printf '%s=%s\n' "$key" "${!name}" >>"$props"
      ;;
  esac
done

/opt/kafka/bin/kafka-storage.sh format --ignore-formatted \
  --cluster-id "$CLUSTER_ID" --config "$props" \
  --add-scram "SCRAM-SHA-512=[name=${SCRAM_USERNAME},password=${SCRAM_PASSWORD}]"
unset SCRAM_PASSWORD
exec /opt/kafka/bin/kafka-server-start.sh "$props"
