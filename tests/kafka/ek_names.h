/*
 * ek_names - Kafka protocol API keys and error codes by name, for the
 * embedded-kafka control channel.
 *
 * Pure lookups, no I/O. API key names are the protocol's request names
 * ("Produce", "OffsetCommit"); error names are librdkafka's without the
 * RD_KAFKA_RESP_ERR_ prefix ("NOT_LEADER_FOR_PARTITION", "_TRANSPORT").
 * Both are matched case-insensitively and both accept plain numbers.
 *
 * @locality any thread.
 */
#ifndef EK_NAMES_H
#define EK_NAMES_H

#include <librdkafka/rdkafka.h>
#include <stdint.h>

/* Parses an API key name ("Fetch", "fetch", "FetchRequest") or number
 * ("1"). Returns 0 and sets *keyp, or -1 if unknown or out of range. */
int ek_names_api_key_parse(const char *s, int16_t *keyp);

/* Returns the protocol name of an API key ("Produce"), or "Unknown". Static
 * storage, never NULL. */
const char *ek_names_api_key_name(int16_t key);

/* Parses an error name ("REQUEST_TIMED_OUT", "request_timed_out",
 * "RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT", "none") or number ("7", "-195").
 * Numbers must fit an int16 (the wire size of an ErrorCode) or be one of
 * librdkafka's known internal codes. Returns 0 and sets *errp, or -1. */
int ek_names_err_parse(const char *s, rd_kafka_resp_err_t *errp);

/* Returns librdkafka's name of an error code without prefix, e.g.
 * "NOT_COORDINATOR". Static storage, never NULL. */
const char *ek_names_err_name(rd_kafka_resp_err_t err);

#endif /* EK_NAMES_H */
