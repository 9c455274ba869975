package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fedcred/fedcred/internal/audit"
)

// mirrorCollector reports m's state, read at each scrape.
func mirrorCollector(m Mirror) prometheus.Collector {
	seq := prometheus.NewDesc("fedcred_mirror_applied_seq",
		"Sequence number of the last store change this replica's in-memory copy applied.", nil, nil)
	serving := prometheus.NewDesc("fedcred_mirror_serving",
		"1 while this replica answers reads from a current copy of the store, else 0.", nil, nil)
	fenced := prometheus.NewDesc("fedcred_mirror_fenced",
		"1 while a writer has fenced this replica off for lagging behind, else 0.", nil, nil)
	return prometheus.CollectorFunc(func(ch chan<- prometheus.Metric) {
		ch <- prometheus.MustNewConstMetric(seq, prometheus.GaugeValue, float64(m.Seq()))
		ch <- prometheus.MustNewConstMetric(serving, prometheus.GaugeValue, boolValue(m.Serving()))
		ch <- prometheus.MustNewConstMetric(fenced, prometheus.GaugeValue, boolValue(m.Fenced()))
	})
}

// auditCollector reports the audit log's counters, read once per scrape.
func auditCollector(stats func() audit.Stats) prometheus.Collector {
	queued := prometheus.NewDesc("fedcred_audit_events_queued",
		"Audit events waiting for the background writer.", nil, nil)
	written := prometheus.NewDesc("fedcred_audit_events_written_total",
		"Audit events stored.", nil, nil)
	dropped := prometheus.NewDesc("fedcred_audit_events_dropped_total",
		"Audit events lost because the queue was full.", nil, nil)
	failed := prometheus.NewDesc("fedcred_audit_events_failed_total",
		"Audit events lost because the store refused them.", nil, nil)
	return prometheus.CollectorFunc(func(ch chan<- prometheus.Metric) {
		s := stats()
		ch <- prometheus.MustNewConstMetric(queued, prometheus.GaugeValue, float64(s.Queued))
		ch <- prometheus.MustNewConstMetric(written, prometheus.CounterValue, float64(s.Written))
		ch <- prometheus.MustNewConstMetric(dropped, prometheus.CounterValue, float64(s.Dropped))
		ch <- prometheus.MustNewConstMetric(failed, prometheus.CounterValue, float64(s.Failed))
	})
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
