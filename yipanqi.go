// Package yipanqi holds the domain of Yipanqi (一盘棋): the types every part of a node speaks
// in — people, org units, cases, messages, audit entries — and the Error type that carries a
// user-safe Chinese message naming the field that is wrong.
//
// It imports only the standard library. Subpackages implement storage (sqlstore), divisions
// (division), resident ID numbers (idcard), the working-day calendar (calendar) and the exchange
// between nodes; cmd/yipanqi wires them.
package yipanqi
