// Package store keeps the worker's durable state in Redis: per-message send
// records (the idempotency guard and the map from Gupshup ids back to
// messages), session windows, and the dead-letter log.
//
// Every key carries a hash tag ({...}) the way asynq's keys do, and every
// Lua script touches keys of one tag only, so the same code runs on a
// standalone Redis, Sentinel or a Cluster.
package store

// Prefix starts every key of the project, apart from asynq's own.
const Prefix = "waq:"

// MessageKey is the hash holding one message's send record.
func MessageKey(messageID string) string { return Prefix + "msg:{" + messageID + "}" }

// GupshupKey maps a Gupshup message id back to the message id.
func GupshupKey(gsID string) string { return Prefix + "gs:{" + gsID + "}" }

// WindowKey holds the time a user last wrote to the business.
func WindowKey(phone string) string { return Prefix + "win:{" + phone + "}" }

// DeadLetterKey is the hash of one campaign's dead letters, by message id.
// asynq trims its archive (10,000 tasks per queue, 90 days); this is never
// trimmed and has no expiry.
func DeadLetterKey(campaignID string) string { return Prefix + "dead:{" + campaignID + "}" }

// DeadCampaignsKey is the set of campaigns that have dead letters.
const DeadCampaignsKey = Prefix + "{dead}:campaigns"

// OrphanKey holds callback events that arrived before the submit that
// produced their Gupshup id was recorded.
func OrphanKey(gsID string) string { return Prefix + "orphan:{" + gsID + "}" }

// CampaignKey is the hash of one campaign's counters.
func CampaignKey(campaignID string) string { return Prefix + "camp:{" + campaignID + "}" }
