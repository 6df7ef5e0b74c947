-- The five tables of the MLOps database, exactly as documented in the seed
-- (types, checks, indexes). IF NOT EXISTS makes this safe on a database that already has them.

CREATE TABLE IF NOT EXISTS prediction_logs (
    id SERIAL PRIMARY KEY,
    prediction_id VARCHAR(255) UNIQUE NOT NULL,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,

    model_version VARCHAR(50),
    model_stage VARCHAR(20),

    prediction INTEGER CHECK (prediction IN (0,1)),
    probability FLOAT CHECK (probability BETWEEN 0 AND 1),

    age INTEGER,
    debt_ratio FLOAT,
    monthly_income FLOAT,
    number_dependents INTEGER,

    request_source VARCHAR(100),
    response_time_ms INTEGER
);

CREATE INDEX IF NOT EXISTS idx_prediction_created_at ON prediction_logs(created_at);
CREATE INDEX IF NOT EXISTS idx_prediction_model_version ON prediction_logs(model_version);

CREATE TABLE IF NOT EXISTS label_store (
    id SERIAL PRIMARY KEY,
    prediction_id VARCHAR(255) UNIQUE
        REFERENCES prediction_logs(prediction_id),
    true_label INTEGER CHECK (true_label IN (0,1)),
    label_timestamp TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    label_source VARCHAR(100),
    days_delayed INTEGER
);

CREATE INDEX IF NOT EXISTS idx_label_timestamp ON label_store(label_timestamp);

CREATE TABLE IF NOT EXISTS model_metadata (
    id SERIAL PRIMARY KEY,
    model_version VARCHAR(50) UNIQUE NOT NULL,
    model_stage VARCHAR(20),
    model_type VARCHAR(50),

    f1_score FLOAT,
    precision_score FLOAT,
    recall_score FLOAT,
    roc_auc FLOAT,
    brier_score FLOAT,

    trained_at TIMESTAMP,
    deployed_at TIMESTAMP,
    mlflow_run_id VARCHAR(255),

    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);

CREATE INDEX IF NOT EXISTS idx_model_stage ON model_metadata(model_stage);

CREATE TABLE IF NOT EXISTS monitoring_alerts (
    id SERIAL PRIMARY KEY,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    alert_type VARCHAR(50),
    severity VARCHAR(20),

    drift_share FLOAT,
    drifted_features TEXT[],
    message TEXT,
    metrics JSONB
);

CREATE INDEX IF NOT EXISTS idx_alert_created_at ON monitoring_alerts(created_at);

CREATE TABLE IF NOT EXISTS retraining_metrics (
    id SERIAL PRIMARY KEY,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,

    shadow_model_version VARCHAR(50),
    production_model_version VARCHAR(50),
    gate_passed BOOLEAN,
    promoted BOOLEAN,

    shadow_f1_score FLOAT,
    production_f1_score FLOAT,
    mlflow_run_id VARCHAR(255)
);

CREATE INDEX IF NOT EXISTS idx_retraining_promoted ON retraining_metrics(promoted);
