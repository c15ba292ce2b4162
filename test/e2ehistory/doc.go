// Package e2ehistory tests `obsctl history` end to end against the real
// local control plane (test/cluster): revisions saved by the inventory
// package, read back through the command as the admin and as an identity
// bound only to what `obsctl rbac` prints. It holds tests only.
package e2ehistory
