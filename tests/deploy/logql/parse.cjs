// Parses LogQL with Grafana's own grammar (@grafana/lezer-logql, the parser of Grafana's Loki query editor).
// stdin: a JSON array of queries. stdout: for each, {errors, names, lineFormats}:
//   errors      offsets of error nodes (Lezer recovers from any input, so "parsed" means: none)
//   names       [role, name] of each label name the query uses: "selector" (stream selector), "filter" (label
//               filter), "by" (grouping), "unwrap", "keep", "drop"
//   lineFormats the line_format templates, as written
"use strict";
const { parser } = require("@grafana/lezer-logql");

// The node a label name sits under decides its role; the nearest one wins (a Matcher in a LabelFilter is a
// filter, a Matcher directly in a Selector is a stream selector).
const ROLES = {
  Selector: "selector",
  LabelFilter: "filter",
  Grouping: "by",
  UnwrapExpr: "unwrap",
  KeepLabelsExpr: "keep",
  DropLabelsExpr: "drop",
  LabelFormatExpr: "label_format",
  LabelParser: "parser",
  JsonExpressionParser: "parser",
  LogfmtExpressionParser: "parser",
  LabelReplaceExpr: "label_replace",
};

function analyse(query) {
  const tree = parser.parse(query);
  const errors = [];
  const names = [];
  const lineFormats = [];
  tree.iterate({
    enter(node) {
      if (node.type.isError) errors.push(node.from);
      if (node.name === "LineFormatExpr") {
        const str = node.node.getChild("String");
        if (str) lineFormats.push(query.slice(str.from, str.to));
      }
      if (node.name !== "Identifier") return;
      for (let up = node.node.parent; up; up = up.parent) {
        if (ROLES[up.name]) {
          names.push([ROLES[up.name], query.slice(node.from, node.to)]);
          break;
        }
      }
    },
  });
  return { errors, names, lineFormats };
}

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  process.stdout.write(JSON.stringify(JSON.parse(input).map(analyse)));
});
