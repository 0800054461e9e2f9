package tasks

// Queues of the send tasks. A producer picks one by what a late message
// costs: QueueCritical for one-time passwords and transactional messages a
// user is waiting for, QueueDefault for the rest of one-off traffic,
// QueueBulk for campaigns.
const (
	QueueCritical = "critical"
	QueueDefault  = "default"
	QueueBulk     = "bulk"
)

// Queues is asynq.Config.Queues for the worker (with StrictPriority off).
//
// asynq then picks, for every free worker slot, a queue order by a shuffle
// weighted 6:3:1 and takes the first queue of that order that has a task, so
// an empty queue gives its share to the others. That is why weights and not
// strict priority:
//   - bulk never starves critical: however many campaign tasks wait,
//     critical comes first in 60% of the fetches, so an OTP waits at most a
//     couple of fetches for a free slot, not behind a million-row campaign;
//   - critical cannot starve bulk forever: bulk comes first in 10% of the
//     fetches even while the other queues are full, so a campaign keeps
//     moving (slowly) during a burst of transactional traffic, which strict
//     priority would not guarantee.
//
// The per-source rate limit applies to all three queues alike; the weights
// decide who gets the slots, not how fast a source sends.
func Queues() map[string]int {
	return map[string]int{
		QueueCritical: 6,
		QueueDefault:  3,
		QueueBulk:     1,
	}
}

// knownQueue reports whether q is served by a worker configured with
// Queues(). A task put anywhere else would wait forever.
func knownQueue(q string) bool {
	switch q {
	case QueueCritical, QueueDefault, QueueBulk:
		return true
	}
	return false
}

// queueNames lists the queues in a fixed order for the duplicate check.
var queueNames = []string{QueueCritical, QueueDefault, QueueBulk}
