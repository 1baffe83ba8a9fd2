import { useEffect, useState } from 'preact/hooks';

/** A destructive action asks once more ("Sure? Tap again") and disarms after 3 s. */
export function DeleteButton({ label, onConfirm }: { label: string; onConfirm: () => void }) {
  const [armed, setArmed] = useState(false);
  useEffect(() => {
    if (!armed) return;
    const t = setTimeout(() => setArmed(false), 3000);
    return () => clearTimeout(t);
  }, [armed]);
  return (
    <button class={`btn ${armed ? 'danger' : 'ghost'}`} onClick={() => (armed ? (setArmed(false), onConfirm()) : setArmed(true))}>
      {armed ? 'Sure? Tap again' : label}
    </button>
  );
}
