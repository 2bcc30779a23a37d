package v1

// Load balancing strategies accepted in LoadBalancerPolicy.Strategy.
// Unknown names fall back to RoundRobin.
const (
	LoadBalancerStrategyRoundRobin           = "RoundRobin"
	LoadBalancerStrategyWeightedLeastRequest = "WeightedLeastRequest"
	LoadBalancerStrategyRandom               = "Random"
	LoadBalancerStrategyCookie               = "Cookie"
	LoadBalancerStrategyRequestHash          = "RequestHash"
)

// TimeoutPolicy sets the timeouts of a route. Values are Go durations
// ("300ms", "5s", "1m"); "infinity" (or "infinite") disables a timeout
// and "0s" means the proxy's default.
type TimeoutPolicy struct {
	// Response is how long to wait for the upstream to finish responding
	// once the request is complete. The proxy default is 15s.
	// +optional
	// +kubebuilder:validation:Pattern=`^(((\d*(\.\d*)?h)|(\d*(\.\d*)?m)|(\d*(\.\d*)?s)|(\d*(\.\d*)?ms)|(\d*(\.\d*)?us)|(\d*(\.\d*)?µs)|(\d*(\.\d*)?ns))+|infinity|infinite)$`
	Response string `json:"response,omitempty"`

	// Idle is how long a request or stream may see no activity. The
	// connection manager's stream idle timeout (5m) applies when unset.
	// +optional
	// +kubebuilder:validation:Pattern=`^(((\d*(\.\d*)?h)|(\d*(\.\d*)?m)|(\d*(\.\d*)?s)|(\d*(\.\d*)?ms)|(\d*(\.\d*)?us)|(\d*(\.\d*)?µs)|(\d*(\.\d*)?ns))+|infinity|infinite)$`
	Idle string `json:"idle,omitempty"`

	// IdleConnection is how long an upstream connection with no requests
	// is kept open. The proxy default is 1h.
	// +optional
	// +kubebuilder:validation:Pattern=`^(((\d*(\.\d*)?h)|(\d*(\.\d*)?m)|(\d*(\.\d*)?s)|(\d*(\.\d*)?ms)|(\d*(\.\d*)?us)|(\d*(\.\d*)?µs)|(\d*(\.\d*)?ns))+|infinity|infinite)$`
	IdleConnection string `json:"idleConnection,omitempty"`
}

// RetryOn is a condition under which a request is retried: an HTTP one
// (5xx, gateway-error, reset, ...) or a gRPC status (cancelled, ...).
// +kubebuilder:validation:Enum="5xx";gateway-error;reset;reset-before-request;connect-failure;envoy-ratelimited;retriable-4xx;refused-stream;retriable-status-codes;retriable-headers;http3-post-connect-failure;cancelled;deadline-exceeded;internal;resource-exhausted;unavailable
type RetryOn string

// RetryPolicy says when and how often failed requests are retried.
type RetryPolicy struct {
	// NumRetries is the maximum number of retries. -1 disables retries;
	// 0 or unset means one retry.
	// +optional
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=-1
	NumRetries int64 `json:"count"`

	// PerTryTimeout bounds each attempt, as a Go duration.
	// +optional
	// +kubebuilder:validation:Pattern=`^(((\d*(\.\d*)?h)|(\d*(\.\d*)?m)|(\d*(\.\d*)?s)|(\d*(\.\d*)?ms)|(\d*(\.\d*)?us)|(\d*(\.\d*)?µs)|(\d*(\.\d*)?ns))+|infinity|infinite)$`
	PerTryTimeout string `json:"perTryTimeout,omitempty"`

	// RetryOn lists the conditions that trigger a retry.
	// +optional
	RetryOn []RetryOn `json:"retryOn,omitempty"`

	// RetriableStatusCodes are the HTTP statuses retried when RetryOn
	// includes retriable-status-codes.
	// +optional
	RetriableStatusCodes []uint32 `json:"retriableStatusCodes,omitempty"`
}

// HTTPHealthCheckPolicy actively checks endpoints with HTTP requests.
type HTTPHealthCheckPolicy struct {
	// Path requested by the health check.
	Path string `json:"path"`

	// Host header of the health check request; a fixed default name when
	// empty.
	Host string `json:"host,omitempty"`

	// IntervalSeconds between two checks.
	// +optional
	IntervalSeconds int64 `json:"intervalSeconds"`

	// TimeoutSeconds to wait for a check's response.
	// +optional
	TimeoutSeconds int64 `json:"timeoutSeconds"`

	// UnhealthyThresholdCount failed checks mark an endpoint unhealthy.
	// +optional
	// +kubebuilder:validation:Minimum=0
	UnhealthyThresholdCount int64 `json:"unhealthyThresholdCount"`

	// HealthyThresholdCount passed checks mark an endpoint healthy again.
	// +optional
	// +kubebuilder:validation:Minimum=0
	HealthyThresholdCount int64 `json:"healthyThresholdCount"`

	// ExpectedStatuses are the response statuses counted as healthy;
	// only 200 when empty.
	// +optional
	ExpectedStatuses []HTTPStatusRange `json:"expectedStatuses,omitempty"`
}

// HTTPStatusRange is the half-open range [Start, End) of HTTP statuses.
type HTTPStatusRange struct {
	// Start of the range, included.
	// +kubebuilder:validation:Minimum=100
	// +kubebuilder:validation:Maximum=599
	Start int64 `json:"start"`

	// End of the range, excluded.
	// +kubebuilder:validation:Minimum=101
	// +kubebuilder:validation:Maximum=600
	End int64 `json:"end"`
}

// TCPHealthCheckPolicy actively checks endpoints by opening connections.
type TCPHealthCheckPolicy struct {
	// IntervalSeconds between two checks.
	// +optional
	IntervalSeconds int64 `json:"intervalSeconds"`

	// TimeoutSeconds to wait for a check to succeed.
	// +optional
	TimeoutSeconds int64 `json:"timeoutSeconds"`

	// UnhealthyThresholdCount failed checks mark an endpoint unhealthy.
	// +optional
	UnhealthyThresholdCount uint32 `json:"unhealthyThresholdCount"`

	// HealthyThresholdCount passed checks mark an endpoint healthy again.
	// +optional
	HealthyThresholdCount uint32 `json:"healthyThresholdCount"`
}

// LoadBalancerPolicy chooses how requests are spread across endpoints.
type LoadBalancerPolicy struct {
	// Strategy is one of RoundRobin (the default), WeightedLeastRequest,
	// Random, Cookie or RequestHash.
	Strategy string `json:"strategy,omitempty"`

	// RequestHashPolicies say which request attributes are hashed when
	// Strategy is RequestHash. Invalid entries are ignored; with none
	// left the strategy falls back to RoundRobin.
	RequestHashPolicies []RequestHashPolicy `json:"requestHashPolicies,omitempty"`
}

// RequestHashPolicy hashes one request attribute. Exactly one of
// HeaderHashOptions, QueryParameterHashOptions and HashSourceIP should be
// set, or the entry is ignored.
type RequestHashPolicy struct {
	// Terminal stops evaluating later hash policies once this one has
	// produced a hash.
	Terminal bool `json:"terminal,omitempty"`

	// HeaderHashOptions hashes a request header.
	// +optional
	HeaderHashOptions *HeaderHashOptions `json:"headerHashOptions,omitempty"`

	// QueryParameterHashOptions hashes a query parameter.
	// +optional
	QueryParameterHashOptions *QueryParameterHashOptions `json:"queryParameterHashOptions,omitempty"`

	// HashSourceIP hashes the client's source address.
	// +optional
	HashSourceIP bool `json:"hashSourceIP,omitempty"`
}

// HeaderHashOptions names the request header to hash.
type HeaderHashOptions struct {
	// HeaderName is the header hashed; requests without it produce no
	// hash.
	// +kubebuilder:validation:Required
	// +kubebuilder:validation:MinLength=1
	HeaderName string `json:"headerName,omitempty"`
}

// QueryParameterHashOptions names the query parameter to hash.
type QueryParameterHashOptions struct {
	// ParameterName is the query parameter hashed; requests without it
	// produce no hash.
	// +kubebuilder:validation:Required
	// +kubebuilder:validation:MinLength=1
	ParameterName string `json:"parameterName,omitempty"`
}
