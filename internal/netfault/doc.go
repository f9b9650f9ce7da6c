// Package netfault is a TCP proxy on loopback that a test puts between a
// store client and its server (PostgreSQL, Redis) to break the connection
// for real: stall it (bytes stop flowing, the connection stays open), drop
// every connection, or drop the connection that carries the n-th write
// from client to server, before or after passing that write on.
package netfault
