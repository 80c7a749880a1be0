/**
 * The dashboard as ink components: a pure function of its props. Every line is laid out by
 * dashboard-layout (fitted to the width, within the height) and drawn through the submit
 * view's placeholder lines, so ink's caches see one string per terminal width, however the
 * figures change from one refresh to the next.
 */
import type { ReactNode } from 'react';
import { Box } from 'ink';
import { dashboardLines, type DashboardScreen } from './dashboard-layout.js';
import { SegText } from './seg-text.js';

export function DashboardView(props: DashboardScreen): ReactNode {
  const columns = Math.max(1, Math.floor(props.columns));
  const lines = dashboardLines({ ...props, columns });
  return (
    <Box flexDirection="column">
      {lines.map((segs, k) => (
        <SegText key={k} segs={segs} columns={columns} />
      ))}
    </Box>
  );
}
