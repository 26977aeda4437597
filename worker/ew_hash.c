/* ew_hash: to be written */
typedef int ew_hash_placeholder_t;
