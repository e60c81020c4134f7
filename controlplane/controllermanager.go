package controlplane

import (
	"context"
	"fmt"
	"os"
	"strings"
)

// controllers are the kube-controller-manager controllers Start enables.
const controllers = "garbagecollector,deployment,replicaset,namespace"

// controllerStarted holds a log line each enabled controller prints once it
// runs. The garbage collector's comes after its resource monitors synced, so
// an owner deleted after Start returns has its dependents collected.
var controllerStarted = []string{
	`"Proceeding to collect garbage"`,
	`"Starting controller" controller="deployment"`,
	`"Starting controller" name="replicaset"`,
	`"Starting namespace controller"`,
}

// startControllerManager runs kube-controller-manager against the loopback
// API server as Admin and waits until every controller has started. It has
// no serving port (nothing to probe), so readiness is read from its log.
func (c *ControlPlane) startControllerManager(ctx context.Context) error {
	kubeconfig := c.path("kube-controller-manager.kubeconfig")
	if err := c.WriteKubeconfig(kubeconfig); err != nil {
		return fmt.Errorf("write kube-controller-manager kubeconfig: %w", err)
	}
	p, err := startProc(c.bins.controllerManager, c.path("kube-controller-manager.log"),
		"--kubeconfig="+kubeconfig,
		"--leader-elect=false",
		"--controllers="+controllers,
		"--secure-port=0",
		"--use-service-account-credentials=false",
	)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.controllerManager = p
	c.mu.Unlock()
	return waitFor(ctx, c.opts.StartTimeout, p, func() error {
		log, err := os.ReadFile(p.log)
		if err != nil {
			return err
		}
		for _, line := range controllerStarted {
			if !strings.Contains(string(log), line) {
				return fmt.Errorf("not logged yet: %s", line)
			}
		}
		return nil
	})
}
