// Writes one OTLP JSON traces request and one logs request the way the OpenTelemetry JavaScript SDK does: real
// SDK spans and log records, serialized by @opentelemetry/otlp-transformer's JSON serializers (what the JS
// OTLP/HTTP exporters send as application/json). Not our encoder: the Python reader must read it as it is.
// stdin: {traceId, spanIds: [agent, call, failed], startMs, service}. stdout: {traces, logs} (each one JSON text).
"use strict";
const { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } = require("@opentelemetry/api");
const { resourceFromAttributes } = require("@opentelemetry/resources");
const { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } = require("@opentelemetry/sdk-trace-base");
const { InMemoryLogRecordExporter, LoggerProvider, SimpleLogRecordProcessor } = require("@opentelemetry/sdk-logs");
const { JsonLogsSerializer, JsonTraceSerializer } = require("@opentelemetry/otlp-transformer");

const DETAILS = "gen_ai.client.inference.operation.details";

function main(input) {
  const resource = resourceFromAttributes({ "service.name": input.service, "service.version": "1.2.3" });
  const spanIds = [...input.spanIds];
  const idGenerator = { generateTraceId: () => input.traceId, generateSpanId: () => spanIds.shift() };
  const spans = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({
    resource,
    idGenerator,
    spanProcessors: [new SimpleSpanProcessor(spans)],
  });
  const logs = new InMemoryLogRecordExporter();
  const loggerProvider = new LoggerProvider({ resource, processors: [new SimpleLogRecordProcessor({ exporter: logs })] });
  const tracer = tracerProvider.getTracer("js-genai", "0.1.0");
  const logger = loggerProvider.getLogger("js-genai", "0.1.0");
  const at = (ms) => [Math.floor(ms / 1000), (ms % 1000) * 1e6];
  const t0 = input.startMs;

  const agent = tracer.startSpan(
    "invoke_agent planner",
    { kind: SpanKind.INTERNAL, startTime: at(t0), attributes: { "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "planner" } },
    ROOT_CONTEXT,
  );
  const inAgent = trace.setSpan(ROOT_CONTEXT, agent);
  const input_messages = [{ role: "user", parts: [{ type: "text", content: "Weather in Paris?" }] }];
  const output_messages = [
    { role: "assistant", parts: [{ type: "text", content: "Sunny, 21 °C." }], finish_reason: "stop" },
  ];

  const chat = (provider, model, startMs, attributes) =>
    tracer.startSpan(
      `chat ${model}`,
      {
        kind: SpanKind.CLIENT,
        startTime: at(startMs),
        attributes: {
          "gen_ai.operation.name": "chat",
          "gen_ai.provider.name": provider,
          "gen_ai.request.model": model,
          ...attributes,
        },
      },
      inAgent,
    );

  // A successful chat call: span content as JSON strings (span capture), the event's content structured.
  const call = chat("openai", "gpt-4o-mini", t0 + 10, {
    "gen_ai.request.temperature": 0.5,
    "gen_ai.request.stream": true,
    "gen_ai.conversation.id": "conv-7",
    "server.address": "api.openai.com",
    "server.port": 443,
  });
  const response = {
    "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
    "gen_ai.response.id": "chatcmpl-js-1",
    "gen_ai.response.finish_reasons": ["stop"],
    // A whole number of seconds: JavaScript has one number type, so the SDK writes it as an intValue.
    "gen_ai.response.time_to_first_chunk": 1,
    "gen_ai.usage.input_tokens": 12,
    "gen_ai.usage.output_tokens": 7,
    "gen_ai.usage.cache_read.input_tokens": 4,
    "gen_ai.usage.reasoning.output_tokens": 0,
  };
  call.setAttributes({
    ...response,
    "gen_ai.input.messages": JSON.stringify(input_messages),
    "gen_ai.output.messages": JSON.stringify(output_messages),
  });
  logger.emit({
    eventName: DETAILS,
    timestamp: at(t0 + 260),
    context: trace.setSpan(ROOT_CONTEXT, call),
    attributes: {
      "gen_ai.operation.name": "chat",
      "gen_ai.provider.name": "openai",
      "gen_ai.request.model": "gpt-4o-mini",
      "gen_ai.conversation.id": "conv-7",
      "server.address": "api.openai.com",
      "server.port": 443,
      ...response,
      "gen_ai.system_instructions": [{ type: "text", content: "Be brief." }],
      "gen_ai.input.messages": input_messages,
      "gen_ai.output.messages": output_messages,
    },
  });
  call.end(at(t0 + 260));

  // A failed call: error.type, an ERROR status with its message, the exception event.
  const failed = chat("anthropic", "claude-sonnet-4-5", t0 + 300, {
    "gen_ai.request.max_tokens": 1024,
    "server.address": "api.anthropic.com",
  });
  failed.recordException({ name: "RateLimitError", message: "Error code: 429 - rate limited" }, at(t0 + 350));
  failed.setAttribute("error.type", "429");
  failed.setStatus({ code: SpanStatusCode.ERROR, message: "Error code: 429 - rate limited" });
  logger.emit({
    eventName: DETAILS,
    timestamp: at(t0 + 350),
    context: trace.setSpan(ROOT_CONTEXT, failed),
    attributes: {
      "gen_ai.operation.name": "chat",
      "gen_ai.provider.name": "anthropic",
      "gen_ai.request.model": "claude-sonnet-4-5",
      "server.address": "api.anthropic.com",
      "error.type": "429",
      "gen_ai.input.messages": input_messages,
    },
  });
  failed.end(at(t0 + 350));
  agent.end(at(t0 + 400));

  const text = (bytes) => new TextDecoder().decode(bytes);
  return {
    traces: text(JsonTraceSerializer.serializeRequest(spans.getFinishedSpans())),
    logs: text(JsonLogsSerializer.serializeRequest(logs.getFinishedLogRecords())),
  };
}

let stdin = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => (stdin += chunk));
process.stdin.on("end", () => process.stdout.write(JSON.stringify(main(JSON.parse(stdin)))));
