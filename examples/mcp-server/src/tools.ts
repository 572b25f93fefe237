// SPDX-License-Identifier: MIT
// The tools: the guide's get_skyflow_records with exactly its input schema, plus get_record,
// detokenize and query. Each reads the caller's Descope token from the MCP SDK's authInfo
// (put there by the bearer check, auth.ts) and asks the broker; the broker exchanges it for
// a Skyflow token it keeps, and calls the vault. Errors are MCP tool errors carrying the
// broker's code.

import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import type { AuthInfo } from "@modelcontextprotocol/sdk/server/auth/types.js";
import { SkybrokerError, type SkybrokerClient } from "skybroker";
import { z } from "zod";

const redaction = z.enum(["DEFAULT", "MASKED", "PLAIN_TEXT", "REDACTED"]);

/** What a tool call did, for the one log line per call (never a token or a value). */
export type ToolLog = (tool: string, outcome: string) => void;

class ToolInputError extends Error {}

function text(value: unknown): CallToolResult {
  return { content: [{ type: "text", text: JSON.stringify(value, null, 2) }] };
}

function toolError(prefix: string, e: unknown): CallToolResult {
  let msg: string;
  if (e instanceof SkybrokerError) {
    msg = `${e.code}: ${e.message}`;
    const extra = [
      ...(e.upstreamStatus !== undefined ? [`HTTP ${e.upstreamStatus}`] : []),
      ...(e.requestId !== undefined ? [`request id ${e.requestId}`] : []),
    ];
    if (extra.length) msg += ` (${extra.join(", ")})`;
  } else if (e instanceof ToolInputError) {
    msg = `bad_request: ${e.message}`;
  } else {
    msg = "internal: unexpected error";
  }
  return { isError: true, content: [{ type: "text", text: `${prefix}: ${msg}` }] };
}

function subjectToken(auth: AuthInfo | undefined): string {
  if (!auth?.token) throw new SkybrokerError("unauthenticated", "no authenticated user on this request");
  return auth.token;
}

/** The guide's offset and limit are strings; the protocol's are integers. */
function count(name: string, v: string | undefined, max?: number): number | undefined {
  if (v === undefined) return undefined;
  if (!/^[0-9]{1,15}$/.test(v)) throw new ToolInputError(`${name} must be a non-negative integer`);
  const n = Number(v);
  if (max !== undefined && (n < 1 || n > max)) throw new ToolInputError(`${name} must be 1..${max}`);
  return n;
}

function outcome(e: unknown): string {
  return e instanceof SkybrokerError ? e.code : e instanceof ToolInputError ? "bad_request" : "internal";
}

export function registerTools(server: McpServer, broker: SkybrokerClient, log: ToolLog): void {
  const run = async (tool: string, prefix: string, fn: () => Promise<unknown>): Promise<CallToolResult> => {
    try {
      const r = text(await fn());
      log(tool, "ok");
      return r;
    } catch (e) {
      log(tool, outcome(e));
      return toolError(prefix, e);
    }
  };

  server.registerTool(
    "get_skyflow_records",
    {
      description:
        "Get records from a Skyflow vault table, as the signed-in user: Skyflow applies the user's roles (columns, redaction, rows).",
      inputSchema: {
        tableName: z.string().describe("Name of the table to read"),
        skyflow_ids: z.array(z.string()).optional().describe("skyflow_id values of the records to return"),
        redaction: redaction.optional().describe("Redaction to apply: DEFAULT, MASKED, PLAIN_TEXT or REDACTED"),
        tokenization: z.boolean().optional().describe("Return tokens instead of values, for tokenized columns"),
        returnFileMetadata: z.boolean().optional().describe("Return file metadata (not available through the broker)"),
        fields: z.array(z.string()).optional().describe("Columns to return; default all the user may read"),
        offset: z.string().optional().describe("Records to skip"),
        limit: z.string().optional().describe("Records to return, at most 25"),
        downloadURL: z.boolean().optional().describe("Return URLs of file columns"),
        column_name: z.string().optional().describe("A unique column to look records up by"),
        column_values: z.array(z.string()).optional().describe("Values of column_name"),
        order_by: z.enum(["ASCENDING", "DESCENDING", "NONE"]).optional().describe("Order by skyflow_id"),
      },
    },
    async (a, extra) =>
      run("get_skyflow_records", "Error fetching Skyflow records", async () => {
        if (a.returnFileMetadata) throw new ToolInputError("returnFileMetadata is not available through skybroker");
        const r = await broker.getRecords(subjectToken(extra.authInfo), {
          table: a.tableName,
          ...(a.skyflow_ids !== undefined && { skyflowIds: a.skyflow_ids }),
          ...(a.redaction !== undefined && { redaction: a.redaction }),
          ...(a.tokenization !== undefined && { tokenization: a.tokenization }),
          ...(a.fields !== undefined && { fields: a.fields }),
          ...(a.offset !== undefined && { offset: count("offset", a.offset)! }),
          ...(a.limit !== undefined && { limit: count("limit", a.limit, 25)! }),
          ...(a.downloadURL !== undefined && { downloadUrl: a.downloadURL }),
          ...(a.column_name !== undefined && { columnName: a.column_name }),
          ...(a.column_values !== undefined && { columnValues: a.column_values }),
          ...(a.order_by !== undefined && { orderBy: a.order_by }),
        });
        return { records: r.records, ...(r.redactionCapped && { redaction_capped: r.redactionCapped }) };
      }),
  );

  server.registerTool(
    "get_record",
    {
      description: "Get one record of a Skyflow vault table by its skyflow_id, as the signed-in user.",
      inputSchema: {
        tableName: z.string().describe("Name of the table"),
        skyflow_id: z.string().describe("The record's skyflow_id"),
        redaction: redaction.optional(),
        fields: z.array(z.string()).optional().describe("Columns to return"),
        tokenization: z.boolean().optional(),
        downloadURL: z.boolean().optional(),
      },
    },
    async (a, extra) =>
      run("get_record", "Error fetching the Skyflow record", async () => {
        const r = await broker.getRecord(subjectToken(extra.authInfo), {
          table: a.tableName,
          skyflowId: a.skyflow_id,
          ...(a.redaction !== undefined && { redaction: a.redaction }),
          ...(a.fields !== undefined && { fields: a.fields }),
          ...(a.tokenization !== undefined && { tokenization: a.tokenization }),
          ...(a.downloadURL !== undefined && { downloadUrl: a.downloadURL }),
        });
        return { ...r.record, ...(r.redactionCapped && { redaction_capped: r.redactionCapped }) };
      }),
  );

  server.registerTool(
    "detokenize",
    {
      description: "Turn Skyflow tokens back into values, as the signed-in user (Skyflow applies the user's redaction).",
      inputSchema: {
        tokens: z.array(z.string()).min(1).describe("The tokens"),
        redaction: redaction.optional(),
        continue_on_error: z.boolean().optional().describe("Return a per-token error instead of failing the whole call"),
      },
    },
    async (a, extra) =>
      run("detokenize", "Error detokenizing", async () => {
        const r = await broker.detokenize(subjectToken(extra.authInfo), {
          tokens: a.tokens,
          ...(a.redaction !== undefined && { redaction: a.redaction }),
          ...(a.continue_on_error !== undefined && { continueOnError: a.continue_on_error }),
        });
        return {
          records: r.records.map((x) => ({ token: x.token, value: x.value, valueType: x.valueType, error: x.error })),
          ...(r.redactionCapped && { redaction_capped: r.redactionCapped }),
        };
      }),
  );

  server.registerTool(
    "query",
    {
      description: "Run a Skyflow SQL SELECT on the vault as the signed-in user (at most 25 rows).",
      inputSchema: { query: z.string().describe("A Skyflow SQL SELECT statement") },
    },
    async (a, extra) => run("query", "Error querying Skyflow", async () => broker.query(subjectToken(extra.authInfo), a.query)),
  );
}
